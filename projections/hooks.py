"""Read model of a project's hooks: when its webhook secret was set (never the secret)
and its deploy hooks (never their tokens), and ``GET /v1/projects/{id}/hooks``.
"""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter

from infra.settings import Settings
from projections.deps import ReadDep
from projections.tracking import wait_for
from schemas.envelope import Envelope
from schemas.errors import NotFound
from schemas.webhooks import (
    DeployHookCreated,
    DeployHookOut,
    DeployHookRevoked,
    HooksOut,
    WebhookSecretSet,
)

NAME = "hooks"

SCHEMA = """
CREATE TABLE IF NOT EXISTS deploy_hooks (
    hook_id text PRIMARY KEY,
    project_id text NOT NULL,
    name text NOT NULL,
    branch text,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS deploy_hooks_project ON deploy_hooks (project_id, created_at);
CREATE TABLE IF NOT EXISTS webhook_secrets (
    project_id text PRIMARY KEY,
    set_at timestamptz NOT NULL
);
"""

router = APIRouter(prefix="/v1", tags=["webhooks"])


async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
    if isinstance(event, WebhookSecretSet):
        await conn.execute(
            "INSERT INTO webhook_secrets (project_id, set_at) VALUES ($1, $2) "
            "ON CONFLICT (project_id) DO UPDATE SET set_at = EXCLUDED.set_at",
            event.project_id, event.occurred_at)
    elif isinstance(event, DeployHookCreated):
        await conn.execute(
            "INSERT INTO deploy_hooks (hook_id, project_id, name, branch, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hook_id) DO NOTHING",
            event.hook_id, event.project_id, event.name, event.branch, event.occurred_at)
    elif isinstance(event, DeployHookRevoked):
        await conn.execute(
            "UPDATE deploy_hooks SET revoked_at = $2 WHERE hook_id = $1 AND revoked_at IS NULL",
            event.hook_id, event.occurred_at)


async def list_hooks(conn: asyncpg.Connection, settings: Settings, project_id: str
                     ) -> HooksOut:
    if not await conn.fetchval("SELECT true FROM projects WHERE project_id = $1", project_id):
        raise NotFound(f"project {project_id} not found")
    set_at = await conn.fetchval(
        "SELECT set_at FROM webhook_secrets WHERE project_id = $1", project_id)
    rows = await conn.fetch(
        "SELECT hook_id, name, branch, created_at FROM deploy_hooks WHERE project_id = $1 "
        "AND revoked_at IS NULL ORDER BY created_at, hook_id", project_id)
    return HooksOut(
        project_id=project_id, secret_set=set_at is not None, secret_set_at=set_at,
        github_url=settings.api_url(f"/v1/webhooks/github?project={project_id}"),
        gitlab_url=settings.api_url(f"/v1/webhooks/gitlab?project={project_id}"),
        deploy_hooks=[DeployHookOut(id=r["hook_id"], project_id=project_id, name=r["name"],
                                    branch=r["branch"], created_at=r["created_at"])
                      for r in rows])


@router.get("/projects/{project_id}/hooks", response_model=HooksOut)
async def get_hooks(project_id: str, platform: ReadDep) -> HooksOut:
    """The project's webhook URLs, whether its secret is set, and its deploy hooks."""
    wanted = platform.consistency.pending()
    await platform.consistency.wait(wanted)
    await wait_for(platform.pool, NAME, wanted, platform.settings.query_wait_seconds)
    async with platform.pool.acquire() as conn:
        return await list_hooks(conn, platform.settings, project_id)
