"""Deciding, pure: ``decide(state, command) -> events`` and ``evolve(state, event)``.

The state of one project stream is rebuilt from its events; nothing here touches a
service, so every rule is testable on its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.builds import BuildSettings, BuildSpec
from schemas.commands import CreateProject, RequestDeployment, subdomain_for
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, NotFound
from schemas.events import DeploymentRequested, ProjectCreated


class ProjectState(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: str
    exists: bool = False
    name: str = ""
    subdomain: str = ""
    git_url: str = ""
    branch: str = "main"
    settings: BuildSettings = BuildSettings()
    deployments: int = 0


def evolve(state: ProjectState, event: Envelope) -> ProjectState:
    if isinstance(event, ProjectCreated):
        return state.model_copy(update={
            "exists": True, "name": event.name, "subdomain": event.subdomain,
            "git_url": event.git_url, "branch": event.branch, "settings": event.settings,
        })
    if isinstance(event, DeploymentRequested):
        return state.model_copy(update={"deployments": max(state.deployments, event.number)})
    return state


def create_project(state: ProjectState, cmd: CreateProject, meta: Meta
                   ) -> list[Envelope]:
    if state.exists:
        raise Conflict(f"project {state.project_id} already exists", field="name")
    settings = BuildSettings(
        root_directory=cmd.root_directory, install_command=cmd.install_command,
        build_command=cmd.build_command, output_directory=cmd.output_directory,
    )
    return [ProjectCreated(
        stream_id=state.project_id, project_id=state.project_id, name=cmd.name,
        subdomain=subdomain_for(cmd.name), git_url=cmd.git_url, branch=cmd.branch,
        settings=settings, correlation_id=meta.correlation_id, causation_id=meta.causation_id,
    )]


def request_deployment(state: ProjectState, cmd: RequestDeployment,
                       meta: Meta, deployment_id: str | None = None
                       ) -> list[Envelope]:
    if not state.exists:
        raise NotFound(f"project {cmd.project_id} does not exist", field="project_id")
    deployment_id = deployment_id or new_id()
    spec = BuildSpec(
        project_id=state.project_id, deployment_id=deployment_id, git_url=state.git_url,
        ref=cmd.ref or state.branch, settings=state.settings,
        correlation_id=meta.correlation_id,
    )
    return [DeploymentRequested(
        stream_id=state.project_id, project_id=state.project_id, deployment_id=deployment_id,
        number=state.deployments + 1, spec=spec, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
    )]


def decide(state: ProjectState, cmd: CreateProject | RequestDeployment,
           meta: Meta) -> list[Envelope]:
    if isinstance(cmd, CreateProject):
        return create_project(state, cmd, meta)
    return request_deployment(state, cmd, meta)
