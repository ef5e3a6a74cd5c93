"""Deciding, pure: the state of one project stream (``ProjectState``), rebuilt from its
events by ``evolve``, and the project's own commands: create it, change its settings,
set or change its build variables. Deployments and domains decide in
``commands.deployments`` and ``commands.domains`` against the same state.

Nothing here touches a service, so every rule is testable on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from schemas.builds import BuildSettings
from schemas.commands import (
    CreateProject,
    UpdateProject,
    subdomain_for,
)
from schemas.envelope import Envelope, Meta
from schemas.errors import Conflict, NotFound
from schemas.events import (
    DeploymentRequested,
    DomainAdded,
    DomainRemoved,
    DomainVerified,
    ProjectCreated,
    ProjectEnvSet,
    ProjectSettingsChanged,
)
from schemas.lifecycle import ProjectDeleted


class DomainClaim(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain_id: str
    token: str
    verified: bool = False


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
    domains: dict[str, DomainClaim] = {}
    deleted: bool = False
    team_id: str | None = None  # None: the instance owner's personal team
    # The build variables as the last ProjectEnvSet encrypted them; "" before any, and
    # in states saved before it was kept (``commands.projects.env`` reads build_env then).
    env_ciphertext: str = ""


def evolve_domains(state: ProjectState, event: Envelope) -> ProjectState:
    domains = dict(state.domains)
    if isinstance(event, DomainAdded):
        domains[event.hostname] = DomainClaim(domain_id=event.domain_id, token=event.token)
    elif isinstance(event, DomainVerified) and event.hostname in domains:
        domains[event.hostname] = domains[event.hostname].model_copy(update={"verified": True})
    elif isinstance(event, DomainRemoved):
        domains.pop(event.hostname, None)
    return state.model_copy(update={"domains": domains})


def evolve(state: ProjectState, event: Envelope) -> ProjectState:
    if isinstance(event, DomainAdded | DomainVerified | DomainRemoved):
        return evolve_domains(state, event)
    if isinstance(event, ProjectCreated):
        return state.model_copy(update={
            "exists": True, "name": event.name, "subdomain": event.subdomain,
            "team_id": event.team_id,
            "git_url": event.git_url, "branch": event.branch, "settings": event.settings,
        })
    if isinstance(event, ProjectSettingsChanged):
        return state.model_copy(update={"branch": event.branch, "settings": event.settings})
    if isinstance(event, ProjectEnvSet):
        return state.model_copy(update={"env_ciphertext": event.ciphertext})
    if isinstance(event, DeploymentRequested):
        return state.model_copy(update={"deployments": max(state.deployments, event.number)})
    if isinstance(event, ProjectDeleted):  # every later command on it is a 404
        return state.model_copy(update={"exists": False, "deleted": True, "domains": {}})
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


def change_env(current: Mapping[str, str], changes: Mapping[str, str],
               removed: Sequence[str]) -> dict[str, str]:
    """The variables after setting ``changes`` and removing ``removed``, each of which
    must be set (as ``vercel env rm`` and ``netlify env:unset`` refuse an unknown name)."""
    missing = [name for name in removed if name not in current]
    if missing:
        raise NotFound(f"no build variable named {missing[0]!r}", field="unset")
    kept = {name: value for name, value in current.items() if name not in removed}
    return kept | dict(changes)


def create_project(state: ProjectState, cmd: CreateProject, meta: Meta,
                   team_id: str | None = None) -> list[Envelope]:
    if state.exists:
        raise Conflict(f"project {state.project_id} already exists", field="name")
    settings = cmd.build_settings()
    return [ProjectCreated(
        stream_id=state.project_id, project_id=state.project_id, name=cmd.name,
        subdomain=subdomain_for(cmd.name), git_url=cmd.git_url or "", branch=cmd.branch,
        settings=settings, team_id=team_id, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
    )]


