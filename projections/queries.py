"""Read-model queries: plain functions that run SQL and return API models."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from infra.settings import Settings
from schemas.api import MASK, DeploymentOut, DomainOut, EnvOut, ProjectOut
from schemas.builds import BuildPlan
from schemas.errors import NotFound
from schemas.routes import deployment_label

PROJECT_SQL = (
    "SELECT p.*, (SELECT r.deployment_id FROM routes r WHERE r.project_id = p.project_id "
    "AND r.production LIMIT 1) AS production_deployment_id, COALESCE((SELECT "
    "rp.auto_promote FROM route_projects rp WHERE rp.project_id = p.project_id), true) "
    "AS auto_promotion, l.deployment_id AS latest_deployment_id, l.status AS latest_status "
    "FROM projects p LEFT JOIN LATERAL (SELECT d.deployment_id, d.status FROM deployments d "
    "WHERE d.project_id = p.project_id ORDER BY d.number DESC LIMIT 1) l ON true "
    "WHERE p.deleted_at IS NULL"
)
# The requester's email is looked up when asked: a changed email shows as it is now.
DEPLOYMENT_SQL = (
    "SELECT d.*, p.subdomain, CASE WHEN d.status = 'QUEUED' AND q.state = 'queued' THEN "
    "(SELECT count(*) FROM build_queue w WHERE w.state = 'queued' "
    "AND (w.requested_at, w.deployment_id) <= (q.requested_at, q.deployment_id)) END "
    "AS queue_position, u.email AS requested_by FROM deployments d "
    "JOIN projects p USING (project_id) LEFT JOIN build_queue q USING (deployment_id) "
    "LEFT JOIN acct_users u ON u.user_id = d.requested_by_user_id WHERE p.deleted_at IS NULL"
)


def project_out(row: asyncpg.Record, settings: Settings) -> ProjectOut:
    build = {k: v for k, v in orjson.loads(row["settings"]).items()
             if k in ProjectOut.model_fields}
    return ProjectOut(
        id=row["project_id"], name=row["name"], subdomain=row["subdomain"],
        git_url=row["git_url"], branch=row["branch"], url=settings.site_url(row["subdomain"]),
        created_at=row["created_at"],
        production_deployment_id=row["production_deployment_id"],
        auto_promotion=row["auto_promotion"], team_id=row["team_id"],
        latest_deployment_id=row["latest_deployment_id"], latest_status=row["latest_status"],
        **build,
    )


def deployment_out(row: asyncpg.Record, settings: Settings) -> DeploymentOut:
    fields: dict[str, Any] = dict(row)
    sub = fields.pop("subdomain")
    fields.pop("requested_by_user_id", None)
    plan = fields.pop("build_plan", None)
    fields["build"] = BuildPlan.model_validate_json(plan) if plan else None
    return DeploymentOut(
        id=fields.pop("deployment_id"),
        url=settings.site_url(deployment_label(row["deployment_id"], sub)),
        project_url=settings.site_url(sub), **fields,
    )


async def list_projects(conn: asyncpg.Connection, settings: Settings, limit: int = 100,
                        offset: int = 0, visible: Any = None) -> list[ProjectOut]:
    """Newest first; with ``visible`` (``infra.compose.policy.Visible``) only the
    projects of its teams (``owner_team``'s for those without one), or its one project."""
    teams = list(visible.teams) if visible is not None else []
    only = visible.project_id if visible is not None else None
    owner = visible.owner_team if visible is not None else None
    rows = await conn.fetch(
        f"{PROJECT_SQL} AND ($3::boolean OR p.project_id = $4 OR p.team_id = ANY($5::text[]) "
        "OR (p.team_id IS NULL AND $6::text = ANY($5::text[]))) "
        "ORDER BY p.created_at DESC, p.project_id LIMIT $1 OFFSET $2",
        limit, offset, visible is None, only, [] if only else teams, owner)
    return [project_out(r, settings) for r in rows]


async def get_project(conn: asyncpg.Connection, settings: Settings, project_id: str
                      ) -> ProjectOut:
    row = await conn.fetchrow(f"{PROJECT_SQL} AND p.project_id = $1", project_id)
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return project_out(row, settings)


async def list_deployments(conn: asyncpg.Connection, settings: Settings, project_id: str,
                           limit: int = 100, offset: int = 0) -> list[DeploymentOut]:
    await get_project(conn, settings, project_id)
    rows = await conn.fetch(
        f"{DEPLOYMENT_SQL} AND d.project_id = $1 ORDER BY d.number DESC LIMIT $2 OFFSET $3",
        project_id, limit, offset)
    return [deployment_out(r, settings) for r in rows]


async def get_deployment(conn: asyncpg.Connection, settings: Settings, deployment_id: str
                         ) -> DeploymentOut:
    row = await conn.fetchrow(f"{DEPLOYMENT_SQL} AND d.deployment_id = $1", deployment_id)
    if row is None:
        raise NotFound(f"deployment {deployment_id} not found")
    return deployment_out(row, settings)


async def get_env(conn: asyncpg.Connection, project_id: str) -> EnvOut:
    names = await conn.fetchval("SELECT env_names FROM projects WHERE project_id = $1 "
                                "AND deleted_at IS NULL", project_id)
    if names is None:
        raise NotFound(f"project {project_id} not found")
    return EnvOut(project_id=project_id, vars=dict.fromkeys(names, MASK))


async def list_domains(conn: asyncpg.Connection, settings: Settings, project_id: str
                       ) -> list[DomainOut]:
    await get_project(conn, settings, project_id)
    rows = await conn.fetch(
        "SELECT * FROM domains WHERE project_id = $1 AND removed_at IS NULL "
        "ORDER BY hostname", project_id)
    return [DomainOut.of(
        project_id, r["hostname"], r["token"], r["verified"], settings.host_url(r["hostname"]),
        created_at=r["created_at"], verified_at=r["verified_at"]) for r in rows]
