"""HTTP command endpoints for deployments: request, cancel, promote, roll back and
redeploy. Each validates, decides and appends; the answer is built from the decided
events, never from a read model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from commands.deps import WriteDep, run, settled
from commands.projects.decide import ProjectState
from commands.service import Outcome
from infra.settings import Settings
from schemas.api import (
    CancelOut,
    DeploymentAccepted,
    ProductionOut,
)
from schemas.commands import (
    CancelDeployment,
    PromoteDeployment,
    RequestDeployment,
    RollbackProduction,
)
from schemas.envelope import Meta
from schemas.events import (
    DeploymentPromoted,
    DeploymentRequested,
    ProductionRolledBack,
)
from schemas.requests import (
    DeploymentBody,
    PromoteBody,
    RedeployBody,
    RollbackBody,
)
from schemas.routes import deployment_label

router = APIRouter(prefix="/v1", tags=["deployments"])


def deployment_response(outcome: Outcome, settings: Settings) -> DeploymentAccepted:
    requested = next(e for e in outcome.events if isinstance(e, DeploymentRequested))
    state: ProjectState = outcome.state
    return DeploymentAccepted(
        id=requested.deployment_id, project_id=requested.project_id, number=requested.number,
        ref=requested.spec.ref,
        url=settings.site_url(deployment_label(requested.deployment_id, state.subdomain)),
        project_url=settings.site_url(state.subdomain),
    )


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
    await settled(platform, outcome)
    return deployment_response(outcome, platform.settings)


@router.post("/deployments/{deployment_id}/cancel", status_code=status.HTTP_202_ACCEPTED,
             response_model=CancelOut)
async def cancel_deployment(deployment_id: str, platform: WriteDep) -> CancelOut:
    """Cancel a queued or building deployment; its build is stopped within seconds."""
    await platform.consistency.wait()
    cmd = CancelDeployment(deployment_id=deployment_id)
    await run(platform, lambda conn, meta: platform.commands.cancel_deployment(
        conn, cmd, meta))
    return CancelOut(id=deployment_id)


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
