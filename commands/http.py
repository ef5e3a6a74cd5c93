"""HTTP command endpoints. Each validates, decides and appends; the response is built
from the decided events, never from a read model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from commands.decide import ProjectState
from commands.deps import WriteDep, WriteSide
from commands.service import Outcome
from infra.settings import Settings
from schemas.api import MASK, DeploymentAccepted, EnvOut, ProjectOut
from schemas.builds import BuildSettings
from schemas.commands import (
    BuildSettingsFields,
    CancelDeployment,
    CreateProject,
    PromoteDeployment,
    RequestDeployment,
    RollbackProduction,
    SetProjectEnv,
    UpdateProject,
    check_ref,
)
from schemas.envelope import Meta, new_id
from schemas.events import (
    DeploymentPromoted,
    DeploymentRequested,
    ProductionRolledBack,
    ProjectCreated,
)
from schemas.routes import deployment_label

router = APIRouter(prefix="/v1", tags=["commands"])


class DeploymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: str | None = Field(default=None, description="branch, tag or commit; default branch")
    build_cache: bool = Field(default=True, description="false: build again even when an "
                              "earlier build had the same commit, settings and variables")

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
async def create_project(cmd: CreateProject, platform: WriteDep) -> ProjectOut:
    """Create a project from a Git repository; its site is served at its subdomain."""
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await platform.commands.create_project(conn, cmd, meta, new_id())
    platform.consistency.appended(outcome.positions)
    return project_response(outcome, platform.settings)


@router.post("/projects/{project_id}/deployments", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted)
async def request_deployment(project_id: str, platform: WriteDep,
                             body: Annotated[DeploymentBody | None, Body()] = None
                             ) -> DeploymentAccepted:
    """Queue a deployment of the project's branch (or the given ref)."""
    cmd = RequestDeployment(project_id=project_id, ref=body.ref if body else None,
                            build_cache=body.build_cache if body else True)
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await platform.commands.request_deployment(conn, cmd, meta)
    platform.consistency.appended(outcome.positions)
    return deployment_response(outcome, platform.settings)


class SettingsBody(BuildSettingsFields):
    branch: str | None = None


class EnvBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vars: dict[str, str] = Field(description="NAME -> value; replaces all variables")


class SettingsOut(BaseModel):
    id: str
    branch: str
    settings: BuildSettings


class CancelOut(BaseModel):
    id: str
    status: str = "CANCELED"


async def run(platform: WriteSide, handle: Callable[[asyncpg.Connection, Meta], Awaitable[Outcome]]
              ) -> Outcome:
    """Run one command in a transaction and remember where its events landed."""
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await handle(conn, Meta.new())
    platform.consistency.appended(outcome.positions)
    return outcome


@router.patch("/projects/{project_id}", response_model=SettingsOut)
async def update_project(project_id: str, body: SettingsBody, platform: WriteDep
                         ) -> SettingsOut:
    """Change build settings for deployments requested from now on (given fields only)."""
    cmd = UpdateProject(project_id=project_id, **body.model_dump(exclude_unset=True))
    outcome = await run(platform, lambda conn, meta: platform.commands.update_project(
        conn, cmd, meta))
    return SettingsOut(id=project_id, branch=outcome.state.branch,
                       settings=outcome.state.settings)


@router.put("/projects/{project_id}/env", response_model=EnvOut)
async def set_env(project_id: str, body: EnvBody, platform: WriteDep) -> EnvOut:
    """Replace the build variables; values are stored encrypted and never shown again."""
    cmd = SetProjectEnv(project_id=project_id, vars=body.vars)
    await run(platform, lambda conn, meta: platform.commands.set_env(conn, cmd, meta))
    return EnvOut(project_id=project_id, vars=dict.fromkeys(sorted(cmd.vars), MASK))


@router.post("/deployments/{deployment_id}/cancel", status_code=status.HTTP_202_ACCEPTED,
             response_model=CancelOut)
async def cancel_deployment(deployment_id: str, platform: WriteDep) -> CancelOut:
    """Cancel a queued or building deployment; its build is stopped within seconds."""
    await platform.consistency.wait()
    cmd = CancelDeployment(deployment_id=deployment_id)
    await run(platform, lambda conn, meta: platform.commands.cancel_deployment(
        conn, cmd, meta))
    return CancelOut(id=deployment_id)


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: str = Field(min_length=1, max_length=64)


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: str | None = Field(default=None, min_length=1, max_length=64,
                                      description="an earlier production deployment; "
                                                  "default: the one before the current")


class RedeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build_cache: bool = Field(default=False, description="true: reuse the earlier output "
                                                         "when nothing changed")


class ProductionOut(BaseModel):
    project_id: str
    production_deployment_id: str
    auto_promotion: bool = Field(description="whether new production deployments go live "
                                             "when READY")


def production_response(outcome: Outcome) -> ProductionOut:
    event = outcome.events[-1]
    assert isinstance(event, DeploymentPromoted | ProductionRolledBack)
    return ProductionOut(project_id=event.project_id,
                         production_deployment_id=event.deployment_id,
                         auto_promotion=isinstance(event, DeploymentPromoted))


@router.post("/projects/{project_id}/promote", response_model=ProductionOut)
async def promote_deployment(project_id: str, body: PromoteBody, platform: WriteDep
                             ) -> ProductionOut:
    """Make a READY deployment production now, without a rebuild; turns automatic
    promotion back on."""
    await platform.consistency.wait()
    cmd = PromoteDeployment(project_id=project_id, deployment_id=body.deployment_id)
    return production_response(await run(platform, lambda conn, meta: platform.commands.promote(
        conn, cmd, meta)))


@router.post("/projects/{project_id}/rollback", response_model=ProductionOut)
async def rollback_production(project_id: str, platform: WriteDep,
                              body: Annotated[RollbackBody | None, Body()] = None
                              ) -> ProductionOut:
    """Put the previous production deployment (or the one given) back in production now;
    automatic promotion pauses until a deployment is promoted."""
    await platform.consistency.wait()
    cmd = RollbackProduction(project_id=project_id,
                             deployment_id=body.deployment_id if body else None)
    return production_response(await run(platform, lambda conn, meta: platform.commands.rollback(
        conn, cmd, meta)))


@router.post("/deployments/{deployment_id}/redeploy", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted)
async def redeploy(deployment_id: str, platform: WriteDep,
                   body: Annotated[RedeployBody | None, Body()] = None) -> DeploymentAccepted:
    """Build the deployment's commit again as a new deployment (same branch and target)."""
    await platform.consistency.wait()
    build_cache = body.build_cache if body else False
    outcome = await run(platform, lambda conn, meta: platform.commands.redeploy(
        conn, deployment_id, build_cache, meta))
    return deployment_response(outcome, platform.settings)
