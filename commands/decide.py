"""Deciding, pure: ``decide(state, command) -> events`` and ``evolve(state, event)``.

The state of one project stream is rebuilt from its events; nothing here touches a
service, so every rule is testable on its own.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from schemas.builds import BuildSettings, BuildSpec
from schemas.commands import (
    AddDomain,
    CreateProject,
    RemoveDomain,
    RequestDeployment,
    UpdateProject,
    subdomain_for,
)
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, NotFound
from schemas.events import (
    DeploymentCanceled,
    DeploymentPromoted,
    DeploymentRequested,
    DomainAdded,
    DomainRemoved,
    DomainVerified,
    ProductionRolledBack,
    ProjectCreated,
    ProjectEnvSet,
    ProjectSettingsChanged,
    VerificationMethod,
)
from schemas.lifecycle import ProjectDeleted


class DomainClaim(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain_id: str
    token: str
    verified: bool = False


SHA = re.compile(r"[0-9a-f]{40}")


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
            "git_url": event.git_url, "branch": event.branch, "settings": event.settings,
        })
    if isinstance(event, ProjectSettingsChanged):
        return state.model_copy(update={"branch": event.branch, "settings": event.settings})
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


def promote(state: ProjectState, deployment_id: str, status: str | None, meta: Meta
            ) -> list[Envelope]:
    """Make a READY deployment of the project production, without rebuilding."""
    require(state, state.project_id)
    if status is None:
        raise NotFound(f"deployment {deployment_id} is not a deployment of this project",
                       field="deployment_id")
    if status != "READY":
        raise Conflict(f"deployment {deployment_id} is {status}; only a READY deployment "
                       "can be promoted", field="deployment_id")
    return [DeploymentPromoted(
        stream_id=state.project_id, project_id=state.project_id, deployment_id=deployment_id,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


def rollback(state: ProjectState, current: str | None, earlier: list[str],
             wanted: str | None, meta: Meta) -> list[Envelope]:
    """Production back to an earlier production deployment: ``wanted``, else the newest
    of ``earlier`` (READY production deployments older than ``current``, newest first).
    ``wanted`` must have been in production before."""
    require(state, state.project_id)
    if wanted is not None and wanted not in earlier:
        raise Conflict(f"deployment {wanted} is not an earlier production deployment of "
                       "this project", field="deployment_id")
    if not earlier:
        raise Conflict("there is no earlier production deployment to roll back to",
                       field="project_id")
    return [ProductionRolledBack(
        stream_id=state.project_id, project_id=state.project_id,
        deployment_id=wanted or earlier[0], from_deployment_id=current,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


def create_project(state: ProjectState, cmd: CreateProject, meta: Meta
                   ) -> list[Envelope]:
    if state.exists:
        raise Conflict(f"project {state.project_id} already exists", field="name")
    settings = cmd.build_settings()
    return [ProjectCreated(
        stream_id=state.project_id, project_id=state.project_id, name=cmd.name,
        subdomain=subdomain_for(cmd.name), git_url=cmd.git_url or "", branch=cmd.branch,
        settings=settings, correlation_id=meta.correlation_id, causation_id=meta.causation_id,
    )]


def request_deployment(state: ProjectState, cmd: RequestDeployment,
                       meta: Meta, deployment_id: str | None = None
                       ) -> list[Envelope]:
    require(state, cmd.project_id)
    if not state.git_url:
        raise Conflict(f"project {cmd.project_id} has no git repository: deploy files with "
                       "POST /v1/projects/{id}/uploads (buildspace deploy)", field="project_id")
    deployment_id = deployment_id or new_id()
    spec = BuildSpec(
        project_id=state.project_id, deployment_id=deployment_id, git_url=state.git_url,
        ref=cmd.ref or state.branch, settings=state.settings, build_cache=cmd.build_cache,
        correlation_id=meta.correlation_id,
    )
    branch = cmd.branch or (state.branch if cmd.ref is None else
                            None if SHA.fullmatch(cmd.ref) else cmd.ref)
    target = cmd.target or ("production" if branch == state.branch else "preview")
    return [DeploymentRequested(
        stream_id=state.project_id, project_id=state.project_id, deployment_id=deployment_id,
        number=state.deployments + 1, spec=spec, branch=branch, target=target,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id,
    )]


def add_domain(state: ProjectState, cmd: AddDomain, token: str, verified: bool, meta: Meta
               ) -> list[Envelope]:
    """``token`` is the random verification token; ``verified`` when an operator's
    setting already vouches for the hostname."""
    require(state, cmd.project_id)
    if cmd.hostname in state.domains:
        raise Conflict(f"{cmd.hostname} is already a domain of this project", field="hostname")
    added = DomainAdded(
        stream_id=state.project_id, project_id=state.project_id, domain_id=new_id(),
        hostname=cmd.hostname, token=token, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)
    if not verified:
        return [added]
    return [added, *verify_domain(evolve(state, added), cmd.hostname, "setting", meta)]


def domain_of(state: ProjectState, project_id: str, hostname: str) -> DomainClaim:
    require(state, project_id)
    claim = state.domains.get(hostname)
    if claim is None:
        raise NotFound(f"{hostname} is not a domain of project {project_id}", field="hostname")
    return claim


def verify_domain(state: ProjectState, hostname: str, method: VerificationMethod, meta: Meta
                  ) -> list[Envelope]:
    """Mark the domain verified (the caller checked the proof); verified stays verified."""
    claim = domain_of(state, state.project_id, hostname)
    if claim.verified:
        return []
    return [DomainVerified(
        stream_id=state.project_id, project_id=state.project_id, domain_id=claim.domain_id,
        hostname=hostname, method=method, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def remove_domain(state: ProjectState, cmd: RemoveDomain, meta: Meta) -> list[Envelope]:
    claim = domain_of(state, cmd.project_id, cmd.hostname)
    return [DomainRemoved(
        stream_id=state.project_id, project_id=state.project_id, domain_id=claim.domain_id,
        hostname=cmd.hostname, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def decide(state: ProjectState, cmd: CreateProject | RequestDeployment,
           meta: Meta) -> list[Envelope]:
    if isinstance(cmd, CreateProject):
        return create_project(state, cmd, meta)
    return request_deployment(state, cmd, meta)
