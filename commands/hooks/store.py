"""The write side's state for webhooks and deploy hooks in PostgreSQL: each project's
webhook secret (ciphertext) under the repository it deploys, the deploy hooks by the
sha256 of their token with their rate-limit bucket, and the deliveries already
processed. Secrets and hooks are rebuilt from ``WebhookSecretSet`` and
``DeployHook*`` events; it is never a read model.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from commands.hooks.decide import Bucket

SCHEMA = """
CREATE TABLE IF NOT EXISTS cmd_webhook_secrets (
    project_id text PRIMARY KEY,
    repo_key text NOT NULL,
    ciphertext text NOT NULL
);
CREATE INDEX IF NOT EXISTS cmd_webhook_secrets_repo ON cmd_webhook_secrets (repo_key);
CREATE TABLE IF NOT EXISTS cmd_deploy_hooks (
    hook_id text PRIMARY KEY,
    project_id text NOT NULL,
    token_sha256 text NOT NULL UNIQUE,
    branch text,
    tokens double precision NOT NULL,
    refilled_at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS cmd_webhook_deliveries (
    project_id text NOT NULL,
    delivery text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, delivery)
);
"""


@dataclass(frozen=True)
class Secret:
    project_id: str
    repo_key: str
    ciphertext: str


@dataclass(frozen=True)
class Hook:
    hook_id: str
    project_id: str
    branch: str | None
    bucket: Bucket


async def save_secret(conn: asyncpg.Connection, project_id: str, repo_key: str,
                      ciphertext: str) -> None:
    await conn.execute(
        "INSERT INTO cmd_webhook_secrets (project_id, repo_key, ciphertext) "
        "VALUES ($1, $2, $3) ON CONFLICT (project_id) DO UPDATE SET "
        "repo_key = EXCLUDED.repo_key, ciphertext = EXCLUDED.ciphertext",
        project_id, repo_key, ciphertext)


async def secrets_for(conn: asyncpg.Connection, repo_keys: list[str],
                      project_id: str | None = None) -> list[Secret]:
    """The secrets of the projects deploying one of ``repo_keys`` (only ``project_id``'s
    when given, whatever its repository)."""
    query = "SELECT project_id, repo_key, ciphertext FROM cmd_webhook_secrets WHERE "
    if project_id is not None:
        rows = await conn.fetch(query + "project_id = $1", project_id)
    else:
        rows = await conn.fetch(query + "repo_key = ANY($1::text[]) ORDER BY project_id",
                                repo_keys)
    return [Secret(r["project_id"], r["repo_key"], r["ciphertext"]) for r in rows]


async def add_hook(conn: asyncpg.Connection, hook_id: str, project_id: str,
                   token_sha256: str, branch: str | None, bucket: Bucket) -> None:
    await conn.execute(
        "INSERT INTO cmd_deploy_hooks (hook_id, project_id, token_sha256, branch, tokens, "
        "refilled_at) VALUES ($1, $2, $3, $4, $5, $6)",
        hook_id, project_id, token_sha256, branch, bucket.tokens, bucket.at)


async def hook_exists(conn: asyncpg.Connection, project_id: str, hook_id: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM cmd_deploy_hooks WHERE hook_id = $1 AND project_id = $2 FOR UPDATE",
        hook_id, project_id))


async def remove_hook(conn: asyncpg.Connection, hook_id: str) -> None:
    await conn.execute("DELETE FROM cmd_deploy_hooks WHERE hook_id = $1", hook_id)


async def hook_for_update(conn: asyncpg.Connection, token_sha256: str) -> Hook | None:
    row = await conn.fetchrow(
        "SELECT hook_id, project_id, branch, tokens, refilled_at FROM cmd_deploy_hooks "
        "WHERE token_sha256 = $1 FOR UPDATE", token_sha256)
    if row is None:
        return None
    return Hook(row["hook_id"], row["project_id"], row["branch"],
                Bucket(row["tokens"], row["refilled_at"]))


async def save_bucket(conn: asyncpg.Connection, hook_id: str, bucket: Bucket) -> None:
    await conn.execute(
        "UPDATE cmd_deploy_hooks SET tokens = $2, refilled_at = $3 WHERE hook_id = $1",
        hook_id, bucket.tokens, bucket.at)


async def record_delivery(conn: asyncpg.Connection, project_id: str, keys: list[str]
                          ) -> bool:
    """Record the delivery's keys for the project; False when any was seen before (a
    concurrent recording of the same key waits for the other transaction to end)."""
    inserted = await conn.fetch(
        "INSERT INTO cmd_webhook_deliveries (project_id, delivery) "
        "SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING delivery",
        project_id, keys)
    return len(inserted) == len(set(keys))
