"""Keep the route table: hostname label -> the deployment the edge serves.

Only a deployment's first final event counts: a READY after a cancel is not served.
The production label (the project's subdomain) follows the latest READY production
deployment by request order, unless a rollback paused that (until a promote); a
promote or rollback moves it at once to the deployment named. A READY preview (another
branch) gets the branch label ``<branch-slug>-<subdomain>``; every READY deployment also
gets its immutable label ``<12-hex>-<subdomain>``; a project's verified custom domains
follow its production label (``projections.domain_routes``). The changes are returned
so the caller publishes them to the compacted routes topic (a ``RouteRemoved`` as a
tombstone).
"""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg

from projections import deleted_routes, domain_routes
from schemas.envelope import Envelope
from schemas.events import (
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentPromoted,
    DeploymentReady,
    DeploymentRequested,
    ProductionRolledBack,
    ProjectCreated,
)
from schemas.lifecycle import ProjectDeleted
from schemas.routes import Route, RouteChange, deployment_label

NAME = "routes"


async def _upsert(conn: asyncpg.Connection, route: Route, production: bool, at: datetime,
                  newer_only: bool = True) -> bool:
    """Point ``route.hostname`` at ``route``'s deployment: only from an older deployment
    (``newer_only``, for automatic moves) or from any other (promote, rollback). A
    hostname held by another project is never taken. ``at``: the time of the event that
    moves it (never now(): a replay writes the same rows)."""
    guard = "routes.number < EXCLUDED.number" if newer_only else \
        "routes.deployment_id <> EXCLUDED.deployment_id"
    changed = await conn.fetchval(
        "INSERT INTO routes (hostname, project_id, deployment_id, number, production, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hostname) DO UPDATE "
        "SET deployment_id = EXCLUDED.deployment_id, number = EXCLUDED.number, "
        "updated_at = EXCLUDED.updated_at WHERE routes.project_id = EXCLUDED.project_id "
        f"AND {guard} RETURNING hostname",
        route.hostname, route.project_id, route.deployment_id, route.number, production, at)
    return changed is not None


def branch_label(branch: str, subdomain: str) -> str:
    """The preview hostname label of a branch: ``feature/Login`` -> ``feature-login-<sub>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")[:40].strip("-") or "branch"
    return f"{slug}-{subdomain}"[:63].rstrip("-")


async def _production(conn: asyncpg.Connection, route: Route, at: datetime, newer_only: bool
                      ) -> list[RouteChange]:
    """Make ``route`` (a subdomain route) production; its domains follow; recorded in the
    production history that rollbacks read."""
    if not await _upsert(conn, route, True, at, newer_only):
        return []
    await conn.execute(
        "INSERT INTO route_production_history (project_id, position, deployment_id) "
        "SELECT $1, COALESCE(max(position), 0) + 1, $2 FROM route_production_history "
        "WHERE project_id = $1", route.project_id, route.deployment_id)
    return [route, *await domain_routes.follow(conn, route, at)]


async def deployment_ready(conn: asyncpg.Connection, e: DeploymentReady
                           ) -> list[RouteChange]:
    row = await conn.fetchrow(
        "UPDATE route_deployments d SET final = true, ready = true FROM route_projects p "
        "WHERE p.project_id = d.project_id AND d.deployment_id = $1 AND NOT d.final "
        "RETURNING p.subdomain, d.number, d.branch, d.target, p.auto_promote",
        e.deployment_id)
    if row is None:
        return []
    subdomain, number, branch, target, auto = row
    base = {"project_id": e.project_id, "deployment_id": e.deployment_id, "number": number}
    changed: list[RouteChange] = []
    if target == "production":
        if auto:
            changed += await _production(conn, Route(hostname=subdomain, **base),
                                         e.occurred_at, True)
    elif branch:
        preview = Route(hostname=branch_label(branch, subdomain), **base)
        if await _upsert(conn, preview, False, e.occurred_at):
            changed.append(preview)
    immutable = Route(hostname=deployment_label(e.deployment_id, subdomain), **base)
    if await _upsert(conn, immutable, False, e.occurred_at):
        changed.insert(1 if changed else 0, immutable)  # after the main label, before domains
    return changed


async def promoted(conn: asyncpg.Connection, e: DeploymentPromoted | ProductionRolledBack
                   ) -> list[RouteChange]:
    """By hand: production becomes the deployment, whichever is newer."""
    auto = isinstance(e, DeploymentPromoted)
    row = await conn.fetchrow(
        "UPDATE route_projects p SET auto_promote = $2 FROM route_deployments d "
        "WHERE d.deployment_id = $1 AND d.project_id = p.project_id AND d.ready "
        "RETURNING p.subdomain, d.number", e.deployment_id, auto)
    if row is None:
        return []
    route = Route(hostname=row[0], project_id=e.project_id, deployment_id=e.deployment_id,
                  number=row[1])
    return await _production(conn, route, e.occurred_at, False)


async def apply(conn: asyncpg.Connection, event: Envelope) -> list[RouteChange]:
    if isinstance(event, ProjectDeleted):
        return await deleted_routes.project_deleted(conn, event)
    domain_handler = domain_routes.HANDLERS.get(type(event))
    if domain_handler is not None:
        return await domain_handler(conn, event)  # type: ignore[operator]
    if isinstance(event, ProjectCreated):
        await conn.execute(
            "INSERT INTO route_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
            event.project_id, event.subdomain)
    elif isinstance(event, DeploymentRequested):
        await conn.execute(
            "INSERT INTO route_deployments (deployment_id, project_id, number, branch, target) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            event.deployment_id, event.project_id, event.number, event.branch, event.target)
    elif isinstance(event, DeploymentReady):
        return await deployment_ready(conn, event)
    elif isinstance(event, DeploymentPromoted | ProductionRolledBack):
        return await promoted(conn, event)
    elif isinstance(event, DeploymentFailed | DeploymentCanceled):
        await conn.execute("UPDATE route_deployments SET final = true WHERE deployment_id = $1",
                           event.deployment_id)
    return []
