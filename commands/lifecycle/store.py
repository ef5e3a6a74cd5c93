"""The write side's state for deleting projects and for outgoing webhooks: which
webhooks each project has (to refuse removing an unknown one and to cap their number),
and releasing a deleted project's name and custom-domain claims. Rebuilt from
``Webhook*`` and ``ProjectDeleted`` events; it is never a read model.
"""

from __future__ import annotations

import asyncpg

SCHEMA = """
CREATE TABLE IF NOT EXISTS cmd_outgoing_webhooks (
    webhook_id text PRIMARY KEY,
    project_id text NOT NULL
);
CREATE INDEX IF NOT EXISTS cmd_outgoing_webhooks_project
    ON cmd_outgoing_webhooks (project_id);
"""


async def webhook_count(conn: asyncpg.Connection, project_id: str) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM cmd_outgoing_webhooks WHERE project_id = $1", project_id))


async def add_webhook(conn: asyncpg.Connection, webhook_id: str, project_id: str) -> None:
    await conn.execute(
        "INSERT INTO cmd_outgoing_webhooks (webhook_id, project_id) VALUES ($1, $2)",
        webhook_id, project_id)


async def remove_webhook(conn: asyncpg.Connection, webhook_id: str, project_id: str) -> bool:
    """Forget the webhook; False when the project has no such webhook."""
    removed = await conn.fetchval(
        "DELETE FROM cmd_outgoing_webhooks WHERE webhook_id = $1 AND project_id = $2 "
        "RETURNING webhook_id", webhook_id, project_id)
    return removed is not None


async def release_project(conn: asyncpg.Connection, project_id: str) -> None:
    """Another project may take the deleted project's name and custom domains now."""
    await conn.execute("DELETE FROM cmd_subdomains WHERE project_id = $1", project_id)
    await conn.execute("DELETE FROM cmd_domains WHERE project_id = $1", project_id)
    await conn.execute("DELETE FROM cmd_outgoing_webhooks WHERE project_id = $1", project_id)
