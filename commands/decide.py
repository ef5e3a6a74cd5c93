"""Deciding, pure: ``decide(state, command) -> events`` and ``evolve(state, event)``.

The state of one project stream is rebuilt from its events; nothing here touches a
service, so every rule is testable on its own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from schemas.builds import BuildSettings, BuildSpec
from schemas.commands import CreateProject, RequestDeployment, UpdateProject, subdomain_for
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, NotFound
from schemas.events import (
    DeploymentCanceled,
    DeploymentRequested,
    ProjectCreated,
    ProjectEnvSet,
    ProjectSettingsChanged,
)


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
    if isinstance(event, ProjectSettingsChanged):
        return state.model_copy(update={"branch": event.branch, "settings": event.settings})
    if isinstance(event, DeploymentRequested):
        return state.model_copy(update={"deployments": max(state.deployments, event.number)})
    return state


def require(state: ProjectState, project_id: str) -> None:
    if not state.exists:
        raise NotFound(f"project {project_id} does not exist", field="project_id")


def update_project(state: ProjectState, cmd: UpdateProject, meta: Meta) -> list[Envelope]:
    require(state, cmd.project_id)
    given = cmd.model_fields_set & set(BuildSettings.model_fields)
    settings = state.settings.model_copy(update={k: getattr(cmd, k) for k in given})
    return [ProjectSettingsChanged(
        stream_id=state.project_id, project_id=state.project_id,
        branch=cmd.branch or state.branch, settings=settings,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


def set_env(state: ProjectState, names: list[str], ciphertext: str, meta: Meta
            ) -> list[Envelope]:
    """``ciphertext`` is the variables already encrypted: deciding stays pure."""
    require(state, state.project_id)
    return [ProjectEnvSet(
        stream_id=state.project_id, project_id=state.project_id, names=sorted(names),
        ciphertext=ciphertext, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


CANCELABLE = ("QUEUED", "BUILDING")


def cancel_deployment(project_id: str, deployment_id: str, status: str, meta: Meta
                      ) -> list[Envelope]:
    """Cancel a queued or running deployment; a finished one stays as it is."""
    if status not in CANCELABLE:
        raise Conflict(f"deployment {deployment_id} is {status}; only a queued or building "
                       "deployment can be canceled", field="deployment_id")
    return [DeploymentCanceled(
        stream_id=project_id, project_id=project_id, deployment_id=deployment_id,
        reason="canceled by user", correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def create_project(state: ProjectState, cmd: CreateProject, meta: Meta
                   ) -> list[Envelope]:
    if state.exists:
        raise Conflict(f"project {state.project_id} already exists", field="name")
    settings = cmd.build_settings()
    return [ProjectCreated(
        stream_id=state.project_id, project_id=state.project_id, name=cmd.name,
        subdomain=subdomain_for(cmd.name), git_url=cmd.git_url, branch=cmd.branch,
        settings=settings, correlation_id=meta.correlation_id, causation_id=meta.causation_id,
    )]


def request_deployment(state: ProjectState, cmd: RequestDeployment,
                       meta: Meta, deployment_id: str | None = None
                       ) -> list[Envelope]:
    require(state, cmd.project_id)
    deployment_id = deployment_id or new_id()
    spec = BuildSpec(
        project_id=state.project_id, deployment_id=deployment_id, git_url=state.git_url,
        ref=cmd.ref or state.branch, settings=state.settings, build_cache=cmd.build_cache,
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
