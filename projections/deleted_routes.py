"""Routes of a deleted project: every hostname it holds (its subdomain, immutable and
preview labels, custom domains) is tombstoned at once, and nothing of it is routed
again: its deployments count as final and its project row is gone, so a late READY,
promote or rollback finds nothing to move. A custom domain another project verified
meanwhile is handed to that project instead of tombstoned (as on a domain removal).
"""

from __future__ import annotations

import asyncpg

from projections import domain_routes
from schemas.lifecycle import ProjectDeleted
from schemas.routes import RouteChange, RouteRemoved


async def project_deleted(conn: asyncpg.Connection, e: ProjectDeleted) -> list[RouteChange]:
    await conn.execute("UPDATE route_deployments SET final = true WHERE project_id = $1",
                       e.project_id)
    await conn.execute("UPDATE route_domains SET removed = true WHERE project_id = $1",
                       e.project_id)
    await conn.execute("DELETE FROM route_projects WHERE project_id = $1", e.project_id)
    rows = await conn.fetch(
        "DELETE FROM routes WHERE project_id = $1 RETURNING hostname", e.project_id)
    changes: list[RouteChange] = []
    for hostname in sorted(r[0] for r in rows):
        successor = await domain_routes._successor(conn, hostname, e.occurred_at)
        changes.append(successor or RouteRemoved(hostname=hostname))
    return changes
