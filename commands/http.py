"""HTTP command endpoints. Each validates, decides and appends; the response is built
from the decided events, never from a read model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from commands.decide import ProjectState
from commands.service import Outcome
from infra.deps import PlatformDep
from infra.settings import Settings
from projections.routes import deployment_label
from schemas.api import DeploymentAccepted, ProjectOut
from schemas.commands import CreateProject, RequestDeployment, check_ref
from schemas.envelope import Meta, new_id
from schemas.events import DeploymentRequested, ProjectCreated

router = APIRouter(prefix="/v1", tags=["commands"])


class DeploymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: str | None = Field(default=None, description="branch, tag or commit; default branch")

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


def project_response(outcome: Outcome, settings: Settings) -> ProjectOut:
    created = next(e for e in outcome.events if isinstance(e, ProjectCreated))
    return ProjectOut(
        id=created.project_id, name=created.name, subdomain=created.subdomain,
        git_url=created.git_url, branch=created.branch, url=settings.site_url(created.subdomain),
        created_at=created.occurred_at, **created.settings.model_dump(),
    )


def deployment_response(outcome: Outcome, settings: Settings) -> DeploymentAccepted:
    requested = next(e for e in outcome.events if isinstance(e, DeploymentRequested))
    state: ProjectState = outcome.state
    return DeploymentAccepted(
        id=requested.deployment_id, project_id=requested.project_id, number=requested.number,
        ref=requested.spec.ref,
        url=settings.site_url(deployment_label(requested.deployment_id, state.subdomain)),
        project_url=settings.site_url(state.subdomain),
    )


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(cmd: CreateProject, platform: PlatformDep) -> ProjectOut:
    """Create a project from a Git repository; its site is served at its subdomain."""
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await platform.commands.create_project(conn, cmd, meta, new_id())
    platform.consistency.appended(outcome.positions)
    return project_response(outcome, platform.settings)


@router.post("/projects/{project_id}/deployments", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted)
async def request_deployment(project_id: str, platform: PlatformDep,
                             body: Annotated[DeploymentBody | None, Body()] = None
                             ) -> DeploymentAccepted:
    """Queue a deployment of the project's branch (or the given ref)."""
    cmd = RequestDeployment(project_id=project_id, ref=body.ref if body else None)
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await platform.commands.request_deployment(conn, cmd, meta)
    platform.consistency.appended(outcome.positions)
    return deployment_response(outcome, platform.settings)
