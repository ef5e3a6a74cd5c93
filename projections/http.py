"""Read-model query endpoints (GET). Each waits, bounded, for the projections to
reach this process's own writes, so a GET right after a command sees its effect.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request

from infra.settings import Settings
from projections import analytics, queries
from projections.deps import ReadDep, ReadPool, ReadSide, SettingsDep
from projections.logs import LogRow
from schemas.analytics import AnalyticsOut
from schemas.api import DeploymentOut, DomainOut, EnvOut, LogLineOut, LogPage, ProjectOut

router = APIRouter(prefix="/v1", tags=["queries"])
compat = APIRouter(tags=["compatibility"])

Limit = Annotated[int, Query(ge=1, le=5000)]
Search = Annotated[str | None, Query(min_length=1, max_length=256)]
StreamFilter = Annotated[Literal["stdout", "stderr", "system"] | None, Query()]


def line_out(row: LogRow) -> LogLineOut:
    return LogLineOut(seq=row.seq, stream=row.stream, timestamp=row.ts, line=row.line,
                      plain=row.plain)
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]  # bounded: a bigger one is no page
Since = Annotated[datetime | None, Query(alias="from", description="ISO 8601; default: to - 24 h")]
Until = Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: now")]


@router.get("/projects", response_model=list[ProjectOut])
async def list_projects(pool: ReadPool, settings: SettingsDep, request: Request,
                        limit: Limit = 100, offset: Offset = 0) -> list[ProjectOut]:
    """List the projects the caller may read, newest first."""
    async with pool.acquire() as conn:
        return await queries.list_projects(conn, settings, limit, offset,
                                           request.state.visible)


@router.get("/projects/{project_id}", response_model=ProjectOut)
async def get_project(project_id: str, pool: ReadPool, settings: SettingsDep) -> ProjectOut:
    """One project with its URL and production deployment."""
    async with pool.acquire() as conn:
        return await queries.get_project(conn, settings, project_id)


@router.get("/projects/{project_id}/env", response_model=EnvOut)
async def get_env(project_id: str, pool: ReadPool) -> EnvOut:
    """The project's build variable names; values are never shown."""
    async with pool.acquire() as conn:
        return await queries.get_env(conn, project_id)


@router.get("/projects/{project_id}/deployments", response_model=list[DeploymentOut])
async def list_deployments(project_id: str, pool: ReadPool, settings: SettingsDep,
                           limit: Limit = 100, offset: Offset = 0) -> list[DeploymentOut]:
    """A project's deployments, newest first."""
    async with pool.acquire() as conn:
        return await queries.list_deployments(conn, settings, project_id, limit, offset)


@router.get("/projects/{project_id}/analytics", response_model=AnalyticsOut)
async def get_analytics(project_id: str, pool: ReadPool, settings: SettingsDep,
                        platform: ReadDep, since: Since = None, until: Until = None
                        ) -> AnalyticsOut:
    """Edge traffic in ``[from, to)``: requests, bytes, status codes, top paths, hosts."""
    start, end = analytics.time_range(since, until)
    async with pool.acquire() as conn:
        await queries.get_project(conn, settings, project_id)
    return await platform.analytics.summary(project_id, start, end)


@router.get("/projects/{project_id}/domains", response_model=list[DomainOut],
            tags=["domains"])
async def list_domains(project_id: str, pool: ReadPool, settings: SettingsDep
                       ) -> list[DomainOut]:
    """A project's custom domains, verified or waiting for their TXT record."""
    async with pool.acquire() as conn:
        return await queries.list_domains(conn, settings, project_id)


@router.get("/deployments/{deployment_id}", response_model=DeploymentOut)
async def get_deployment(deployment_id: str, pool: ReadPool, settings: SettingsDep
                         ) -> DeploymentOut:
    """One deployment: status, commit, timings, failure reason."""
    async with pool.acquire() as conn:
        return await queries.get_deployment(conn, settings, deployment_id)


async def complete_logs(platform: ReadSide, pool: asyncpg.Pool, settings: Settings,
                        deployment_id: str, up_to: int | None = None) -> int | None:
    """404 for an unknown deployment; for a finished one, wait (bounded) until its log
    is stored up to ``up_to`` (default: the end). Returns the final line's seq."""
    async with pool.acquire() as conn:
        deployment = await queries.get_deployment(conn, settings, deployment_id)
    if deployment.log_lines:
        wanted = min(deployment.log_lines, up_to or deployment.log_lines)
        await platform.logs.wait_for_seq(deployment_id, wanted, settings.query_wait_seconds)
    return deployment.log_lines


@router.get("/deployments/{deployment_id}/logs", response_model=LogPage)
async def get_logs(deployment_id: str, pool: ReadPool, settings: SettingsDep,
                   platform: ReadDep, after_seq: Offset = 0,
                   limit: Limit = 1000, q: Search = None, stream: StreamFilter = None
                   ) -> LogPage:
    """A page of the build log ordered by seq; pass ``next_after_seq`` for the next.
    ``q`` finds lines containing the text (case-insensitive, colours ignored);
    ``stream`` keeps only stdout, stderr or system lines."""
    final_seq = await complete_logs(platform, pool, settings, deployment_id,
                                    None if q or stream else after_seq + limit + 1)
    rows = await platform.logs.page(deployment_id, after_seq, limit + 1, q=q, stream=stream)
    lines = [line_out(r) for r in rows[:limit]]
    next_after = lines[-1].seq if lines else after_seq
    unfiltered_rest = not (q or stream) and final_seq is not None and next_after < final_seq
    return LogPage(deployment_id=deployment_id, lines=lines, next_after_seq=next_after,
                   has_more=len(rows) > limit or unfiltered_rest)


@compat.get("/logs/{deployment_id}")
async def seed_logs(deployment_id: str, platform: ReadDep, pool: ReadPool,
                    settings: SettingsDep) -> dict[str, Any]:
    """Seed-compatible: every log line of a deployment as ``rawLogs``."""
    await complete_logs(platform, pool, settings, deployment_id)
    rows = await platform.logs.page(deployment_id, 0, 100_000)
    return {"rawLogs": [{
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{deployment_id}/{r.seq}")),
        "deployment_id": deployment_id, "log": r.line, "timestamp": r.ts.isoformat(),
    } for r in rows]}
