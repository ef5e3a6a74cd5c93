"""Deciding deployments, pure: request one, cancel it, promote one to production or
roll production back; and ``decide`` for the two commands the intake topic carries.
"""

from __future__ import annotations

import re

from commands.projects.decide import ProjectState, create_project, require
from infra.actors import SYSTEM
from schemas.audit import Actor
from schemas.builds import BuildSpec
from schemas.commands import CreateProject, RequestDeployment
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, NotFound
from schemas.events import (
    DeploymentCanceled,
    DeploymentPromoted,
    DeploymentRequested,
    ProductionRolledBack,
)

SHA = re.compile(r"[0-9a-f]{40}")
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


def request_deployment(state: ProjectState, cmd: RequestDeployment,
                       meta: Meta, deployment_id: str | None = None, *, requested_by: Actor
                       ) -> list[Envelope]:
    """``requested_by``: who asks (``infra.actors.current()`` at the service)."""
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
        requested_by=requested_by, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id,
    )]


def decide(state: ProjectState, cmd: CreateProject | RequestDeployment,
           meta: Meta, requested_by: Actor = SYSTEM) -> list[Envelope]:
    if isinstance(cmd, CreateProject):
        return create_project(state, cmd, meta)
    return request_deployment(state, cmd, meta, requested_by=requested_by)
