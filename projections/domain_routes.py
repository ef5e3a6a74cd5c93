"""Routes for custom domains: a verified domain serves its project's production
deployment, whichever that is now or later.

``route_domains`` keeps each domain attachment (by ``domain_id``) with its state, so a
replayed event changes nothing. The production route's hostname and every verified
domain of the project point at one deployment: ``follow`` moves the domains whenever
the production route changes. A hostname moving between projects may be verified by
the new one before its removal from the old one is projected (different partitions):
the newest verification takes the route, and a removal hands it to the other live
claim instead of tombstoning it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.events import DomainAdded, DomainRemoved, DomainVerified
from schemas.routes import Route, RouteChange, RouteRemoved


async def production_route(conn: asyncpg.Connection, project_id: str) -> Route | None:
    row = await conn.fetchrow(
        "SELECT r.hostname, r.deployment_id, r.number FROM routes r JOIN route_projects p "
        "ON p.project_id = r.project_id AND p.subdomain = r.hostname WHERE p.project_id = $1",
        project_id)
    return None if row is None else Route(project_id=project_id, **dict(row))


async def _upsert(conn: asyncpg.Connection, hostname: str, production: Route, at: datetime
                  ) -> Route | None:
    """Point ``hostname`` at the production deployment (``at``: the moving event's
    time); None when it already does."""
    changed = await conn.fetchval(
        "INSERT INTO routes (hostname, project_id, deployment_id, number, production, "
        "updated_at) VALUES ($1, $2, $3, $4, false, $5) ON CONFLICT (hostname) DO UPDATE "
        "SET project_id = EXCLUDED.project_id, deployment_id = EXCLUDED.deployment_id, "
        "number = EXCLUDED.number, production = false, updated_at = EXCLUDED.updated_at "
        "WHERE (routes.project_id, routes.deployment_id) IS DISTINCT FROM "
        "(EXCLUDED.project_id, EXCLUDED.deployment_id) RETURNING hostname",
        hostname, production.project_id, production.deployment_id, production.number, at)
    return None if changed is None else production.model_copy(update={"hostname": hostname})


async def follow(conn: asyncpg.Connection, production: Route, at: datetime
                 ) -> list[RouteChange]:
    """Move the project's verified domains to its new production deployment."""
    hostnames = await conn.fetch(
        "SELECT hostname FROM route_domains WHERE project_id = $1 AND verified "
        "AND NOT removed ORDER BY hostname", production.project_id)
    changed = [await _upsert(conn, row[0], production, at) for row in hostnames]
    return [route for route in changed if route is not None]


async def domain_added(conn: asyncpg.Connection, e: DomainAdded) -> list[RouteChange]:
    await conn.execute(
        "INSERT INTO route_domains (domain_id, project_id, hostname) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING", e.domain_id, e.project_id, e.hostname)
    return []


async def domain_verified(conn: asyncpg.Connection, e: DomainVerified) -> list[RouteChange]:
    newly = await conn.fetchval(
        "UPDATE route_domains SET verified = true WHERE domain_id = $1 AND NOT verified "
        "AND NOT removed RETURNING domain_id", e.domain_id)
    production = await production_route(conn, e.project_id) if newly else None
    route = await _upsert(conn, e.hostname, production, e.occurred_at) if production else None
    return [] if route is None else [route]


async def domain_removed(conn: asyncpg.Connection, e: DomainRemoved) -> list[RouteChange]:
    was_verified = await conn.fetchval(
        "UPDATE route_domains SET removed = true WHERE domain_id = $1 AND NOT removed "
        "RETURNING verified", e.domain_id)
    served = was_verified and await conn.fetchval(
        "DELETE FROM routes WHERE hostname = $1 AND project_id = $2 RETURNING hostname",
        e.hostname, e.project_id)
    if not served:
        return []
    return [await _successor(conn, e.hostname, e.occurred_at)
            or RouteRemoved(hostname=e.hostname)]


async def _successor(conn: asyncpg.Connection, hostname: str, at: datetime) -> Route | None:
    """The route of another project that verified ``hostname`` meanwhile, if any."""
    project_id = await conn.fetchval(
        "SELECT project_id FROM route_domains WHERE hostname = $1 AND verified "
        "AND NOT removed LIMIT 1", hostname)
    production = await production_route(conn, project_id) if project_id else None
    return await _upsert(conn, hostname, production, at) if production else None


HANDLERS = {
    DomainAdded: domain_added,
    DomainVerified: domain_verified,
    DomainRemoved: domain_removed,
}
