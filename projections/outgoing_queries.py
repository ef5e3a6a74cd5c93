"""Read side of outgoing webhooks: a project's webhooks (secrets masked) and each
webhook's delivery log (every attempt with its answer, error, duration and next retry).
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query

from infra.settings import Settings
from projections import outgoing, queries
from projections.deps import ReadDep
from projections.tracking import wait_for
from schemas.api import MASK
from schemas.errors import NotFound
from schemas.outgoing import AttemptOut, DeliveryOut, WebhookOut

router = APIRouter(prefix="/v1", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=500)]


async def list_webhooks(conn: asyncpg.Connection, settings: Settings, project_id: str
                        ) -> list[WebhookOut]:
    await queries.get_project(conn, settings, project_id)
    rows = await conn.fetch(
        "SELECT * FROM outgoing_webhooks WHERE project_id = $1 AND removed_at IS NULL "
        "ORDER BY created_at, webhook_id", project_id)
    return [WebhookOut(id=r["webhook_id"], project_id=project_id, url=r["url"],
                       events=r["events"], secret=MASK, created_at=r["created_at"])
            for r in rows]


def attempt_out(row: asyncpg.Record) -> AttemptOut:
    return AttemptOut(**{k: row[k] for k in AttemptOut.model_fields})


async def list_deliveries(conn: asyncpg.Connection, settings: Settings, project_id: str,
                          webhook_id: str, limit: int) -> list[DeliveryOut]:
    await queries.get_project(conn, settings, project_id)
    if not await conn.fetchval("SELECT true FROM outgoing_webhooks WHERE webhook_id = $1 "
                               "AND project_id = $2", webhook_id, project_id):
        raise NotFound(f"webhook {webhook_id} not found")
    rows = await conn.fetch(
        "SELECT * FROM webhook_outbox WHERE webhook_id = $1 "
        "ORDER BY created_at DESC, delivery_id LIMIT $2", webhook_id, limit)
    attempts = await conn.fetch(
        "SELECT * FROM webhook_attempts WHERE delivery_id = ANY($1::text[]) "
        "ORDER BY delivery_id, attempt", [r["delivery_id"] for r in rows])
    by_delivery: dict[str, list[AttemptOut]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(attempt_out(a))
    return [DeliveryOut(
        id=r["delivery_id"], event_id=r["event_id"], type=r["type"], state=r["state"],
        created_at=r["created_at"], attempts=by_delivery.get(r["delivery_id"], []),
        next_attempt_at=r["next_attempt_at"] if r["state"] == "pending" else None)
        for r in rows]


async def caught_up(platform: ReadDep) -> None:
    """Wait (bounded) until the webhook projection reached this process's writes."""
    wanted = platform.consistency.pending()
    await platform.consistency.wait(wanted)
    await wait_for(platform.pool, outgoing.NAME, wanted, platform.settings.query_wait_seconds)


@router.get("/projects/{project_id}/webhooks", response_model=list[WebhookOut])
async def get_webhooks(project_id: str, platform: ReadDep) -> list[WebhookOut]:
    """The project's webhooks and the events each receives; secrets are masked."""
    await caught_up(platform)
    async with platform.pool.acquire() as conn:
        return await list_webhooks(conn, platform.settings, project_id)


@router.get("/projects/{project_id}/webhooks/{webhook_id}/deliveries",
            response_model=list[DeliveryOut])
async def get_deliveries(project_id: str, webhook_id: str, platform: ReadDep,
                         limit: Limit = 100) -> list[DeliveryOut]:
    """The webhook's deliveries, newest first, each with its attempts: status code,
    error, duration and when the next retry is due."""
    await caught_up(platform)
    async with platform.pool.acquire() as conn:
        return await list_deliveries(conn, platform.settings, project_id, webhook_id, limit)
