"""The audit trail: who did what to which resource, when and from which address, as a
read model of every control event and the actor in its record's header
(``infra.actors``). ``GET /v1/teams/{team_id}/audit`` answers a team's trail, newest
first, a page at a time (``cursor`` is the ``next_cursor`` of the page before).

A project's events belong to the team the project was created in; projects made before
accounts (no team in their events) belong to the instance owner's personal team.

An entry's ``seq`` (its id and the cursor) is its event's time in microseconds since the
epoch, the next free one if taken: the trail is in the order things happened, and a
replay of the topic numbers it the same way, whatever order partitions are read in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import orjson
from fastapi import APIRouter, Query

from projections.deps import ReadPool
from schemas.audit import Actor, AuditEntry, AuditPage
from schemas.envelope import Envelope
from schemas.events import ProjectCreated

NAME = "audit"
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq bigserial PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    team_id text,
    project_id text,
    type text NOT NULL,
    resource text NOT NULL,
    actor jsonb NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_team ON audit (team_id, seq DESC);
CREATE INDEX IF NOT EXISTS audit_project ON audit (project_id, seq DESC);
CREATE TABLE IF NOT EXISTS audit_projects (
    project_id text PRIMARY KEY,
    team_id text
);
"""
OWNER_TEAM = ("SELECT t.team_id FROM acct_teams t JOIN acct_users u ON "
              "u.user_id = t.created_by WHERE t.personal AND u.instance_owner")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The first free seq from $8 on: $8 itself, or one past the end of the run of taken ones.
FREE_SEQ = ("CASE WHEN NOT EXISTS (SELECT 1 FROM audit WHERE seq = $8) THEN $8 ELSE "
            "(SELECT min(a.seq) + 1 FROM audit a WHERE a.seq >= $8 AND NOT EXISTS "
            "(SELECT 1 FROM audit b WHERE b.seq = a.seq + 1)) END")
RESOURCE_KEYS = ("deployment_id", "project_id", "invitation_id", "token_id", "user_id",
                 "team_id")

router = APIRouter(prefix="/v1", tags=["teams"])


def resource_of(event: Envelope) -> str:
    for key in RESOURCE_KEYS:
        value = getattr(event, key, None)
        if isinstance(value, str) and value:
            return f"{key.removesuffix('_id')}:{value}"
    return f"stream:{event.stream_id}"


def seq_of(at: datetime) -> int:
    """Microseconds since the epoch (an event without a zone is in UTC)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return (aware - EPOCH) // timedelta(microseconds=1)


async def apply(conn: asyncpg.Connection, event: Envelope, actor: Actor) -> None:
    project_id = getattr(event, "project_id", None)
    if isinstance(event, ProjectCreated):
        await conn.execute("INSERT INTO audit_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           event.project_id, event.team_id)
    team_id = getattr(event, "team_id", None)
    if project_id is not None and not isinstance(event, ProjectCreated):
        team_id = await conn.fetchval("SELECT team_id FROM audit_projects "
                                      "WHERE project_id = $1", project_id)
    await conn.execute(
        "INSERT INTO audit (event_id, team_id, project_id, type, resource, actor, "
        f"occurred_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, {FREE_SEQ}) "
        "ON CONFLICT (event_id) DO NOTHING",
        event.event_id, team_id, project_id, event.type, resource_of(event),
        orjson.dumps(actor.model_dump(exclude_none=True)).decode(), event.occurred_at,
        seq_of(event.occurred_at))


async def page(conn: asyncpg.Connection, team_id: str, cursor: int | None, limit: int
               ) -> AuditPage:
    rows = await conn.fetch(
        "SELECT seq, occurred_at, actor, type, resource, project_id FROM audit "
        "WHERE (team_id = $1 OR (team_id IS NULL AND project_id IS NOT NULL AND "
        f"$1 = ({OWNER_TEAM}))) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        team_id, cursor or 2**62, limit + 1)
    entries = [AuditEntry(id=r["seq"], at=r["occurred_at"], actor=orjson.loads(r["actor"]),
                          action=r["type"], resource=r["resource"], project_id=r["project_id"])
               for r in rows[:limit]]
    return AuditPage(entries=entries,
                     next_cursor=entries[-1].id if len(rows) > limit else None)


@router.get("/teams/{team_id}/audit", response_model=AuditPage)
async def team_audit(team_id: str, pool: ReadPool,
                     cursor: Annotated[int | None, Query(ge=1)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditPage:
    """The team's audit trail, newest first: each event of its projects and of the team
    itself, with who did it (a user's session, a token, a Git webhook delivery, a deploy
    hook or the system), from which address, and to which resource."""
    async with pool.acquire() as conn:
        return await page(conn, team_id, cursor, limit)
