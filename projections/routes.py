"""Keep the route table: hostname label -> the deployment the edge serves.

Only a deployment's first final event counts: a READY after a cancel is not served.
The production label (the project's subdomain) follows the latest READY deployment
by request order; every READY deployment also gets its immutable label
``<12-hex>-<subdomain>``. The changes are returned so the caller publishes them to
the compacted routes topic.
"""

from __future__ import annotations

import asyncpg

from schemas.envelope import Envelope
from schemas.events import (
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentReady,
    DeploymentRequested,
    ProjectCreated,
)
from schemas.routes import Route, deployment_label

NAME = "routes"


async def _upsert(conn: asyncpg.Connection, route: Route, production: bool) -> bool:
    changed = await conn.fetchval(
        "INSERT INTO routes (hostname, project_id, deployment_id, number, production, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (hostname) DO UPDATE "
        "SET deployment_id = EXCLUDED.deployment_id, number = EXCLUDED.number, "
        "updated_at = now() WHERE routes.number < EXCLUDED.number RETURNING hostname",
        route.hostname, route.project_id, route.deployment_id, route.number, production)
    return changed is not None


async def deployment_ready(conn: asyncpg.Connection, e: DeploymentReady) -> list[Route]:
    row = await conn.fetchrow(
        "UPDATE route_deployments d SET final = true FROM route_projects p "
        "WHERE p.project_id = d.project_id AND d.deployment_id = $1 AND NOT d.final "
        "RETURNING p.subdomain, d.number", e.deployment_id)
    if row is None:
        return []
    base = {"project_id": e.project_id, "deployment_id": e.deployment_id, "number": row[1]}
    wanted = [
        (Route(hostname=row[0], **base), True),
        (Route(hostname=deployment_label(e.deployment_id, row[0]), **base), False),
    ]
    return [route for route, production in wanted if await _upsert(conn, route, production)]


async def apply(conn: asyncpg.Connection, event: Envelope) -> list[Route]:
    if isinstance(event, ProjectCreated):
        await conn.execute(
            "INSERT INTO route_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
            event.project_id, event.subdomain)
    elif isinstance(event, DeploymentRequested):
        await conn.execute(
            "INSERT INTO route_deployments VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            event.deployment_id, event.project_id, event.number)
    elif isinstance(event, DeploymentReady):
        return await deployment_ready(conn, event)
    elif isinstance(event, DeploymentFailed | DeploymentCanceled):
        await conn.execute("UPDATE route_deployments SET final = true WHERE deployment_id = $1",
                           event.deployment_id)
    return []
