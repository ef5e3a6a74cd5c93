"""Keep the route table: hostname label -> the deployment the edge serves.

Only a deployment's first final event counts: a READY after a cancel is not served.
The production label (the project's subdomain) follows the latest READY deployment
by request order; every READY deployment also gets its immutable label
``<12-hex>-<subdomain>``; a project's verified custom domains follow its production
label (``projections.domain_routes``). The changes are returned so the caller
publishes them to the compacted routes topic (a ``RouteRemoved`` as a tombstone).
"""

from __future__ import annotations

import asyncpg

from projections import domain_routes
from schemas.envelope import Envelope
from schemas.events import (
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentReady,
    DeploymentRequested,
    ProjectCreated,
)
from schemas.routes import Route, RouteChange, deployment_label

NAME = "routes"


async def _upsert(conn: asyncpg.Connection, route: Route, production: bool) -> bool:
    changed = await conn.fetchval(
        "INSERT INTO routes (hostname, project_id, deployment_id, number, production, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (hostname) DO UPDATE "
        "SET deployment_id = EXCLUDED.deployment_id, number = EXCLUDED.number, "
        "updated_at = now() WHERE routes.number < EXCLUDED.number RETURNING hostname",
        route.hostname, route.project_id, route.deployment_id, route.number, production)
    return changed is not None


async def deployment_ready(conn: asyncpg.Connection, e: DeploymentReady
                           ) -> list[RouteChange]:
    row = await conn.fetchrow(
        "UPDATE route_deployments d SET final = true FROM route_projects p "
        "WHERE p.project_id = d.project_id AND d.deployment_id = $1 AND NOT d.final "
        "RETURNING p.subdomain, d.number", e.deployment_id)
    if row is None:
        return []
    base = {"project_id": e.project_id, "deployment_id": e.deployment_id, "number": row[1]}
    production = Route(hostname=row[0], **base)
    wanted = [
        (production, True),
        (Route(hostname=deployment_label(e.deployment_id, row[0]), **base), False),
    ]
    changed: list[RouteChange] = [
        route for route, is_production in wanted if await _upsert(conn, route, is_production)]
    if production in changed:
        changed += await domain_routes.follow(conn, production)
    return changed


async def apply(conn: asyncpg.Connection, event: Envelope) -> list[RouteChange]:
    domain_handler = domain_routes.HANDLERS.get(type(event))
    if domain_handler is not None:
        return await domain_handler(conn, event)  # type: ignore[operator]
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
