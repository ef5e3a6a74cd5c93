"""The write side's own state in PostgreSQL: one row per project stream (the state
``decide`` needs), the subdomain claims that make names unique, and the ids of
commands already processed from Kafka. It is rebuilt from ``ProjectCreated`` and
``DeploymentRequested`` events when replaying; it is never a read model.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from commands.projects.decide import ProjectState

SCHEMA = """
CREATE TABLE IF NOT EXISTS cmd_streams (
    stream_id text PRIMARY KEY,
    state jsonb NOT NULL,
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS cmd_subdomains (
    subdomain text PRIMARY KEY,
    project_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS cmd_domains (
    hostname text PRIMARY KEY,
    project_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS cmd_deployments (
    deployment_id text PRIMARY KEY,
    project_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS cmd_processed (
    command_id text PRIMARY KEY,
    outcome jsonb NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
"""


async def claim_subdomain(conn: asyncpg.Connection, subdomain: str, project_id: str) -> bool:
    """Claim ``subdomain``; a concurrent claim waits for ours to commit, then loses."""
    row = await conn.fetchval(
        "INSERT INTO cmd_subdomains (subdomain, project_id) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING RETURNING project_id", subdomain, project_id,
    )
    return row is not None


async def claim_domain(conn: asyncpg.Connection, hostname: str, project_id: str
                       ) -> str | None:
    """Claim ``hostname`` for ``project_id`` (a concurrent claim waits for ours to
    commit); returns the project holding it when that is another one."""
    await conn.execute(
        "INSERT INTO cmd_domains (hostname, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        hostname, project_id)
    holder: str = await conn.fetchval(
        "SELECT project_id FROM cmd_domains WHERE hostname = $1", hostname)
    return None if holder == project_id else holder


async def release_domain(conn: asyncpg.Connection, hostname: str, project_id: str) -> None:
    await conn.execute("DELETE FROM cmd_domains WHERE hostname = $1 AND project_id = $2",
                       hostname, project_id)


async def project_for_subdomain(conn: asyncpg.Connection, subdomain: str) -> str | None:
    return await conn.fetchval(
        "SELECT project_id FROM cmd_subdomains WHERE subdomain = $1", subdomain)


async def load_for_update(conn: asyncpg.Connection, stream_id: str) -> ProjectState:
    return await load(conn, stream_id, lock=True)


async def load(conn: asyncpg.Connection, stream_id: str, lock: bool = False) -> ProjectState:
    """The stream's state; with ``lock``, its row stays locked until the transaction ends."""
    row = await conn.fetchrow("SELECT state FROM cmd_streams WHERE stream_id = $1"
                              + (" FOR UPDATE" if lock else ""), stream_id)
    if row is None:
        return ProjectState(project_id=stream_id)
    return ProjectState.model_validate(orjson.loads(row["state"]))


async def projected_env(conn: asyncpg.Connection, project_id: str) -> str | None:
    """The variables' ciphertext as the build queue keeps it: for states saved before
    they kept their own (``ProjectState.env_ciphertext``)."""
    ciphertext: str | None = await conn.fetchval(
        "SELECT ciphertext FROM build_env WHERE project_id = $1", project_id)
    return ciphertext


async def save(conn: asyncpg.Connection, state: ProjectState) -> None:
    await conn.execute(
        "INSERT INTO cmd_streams (stream_id, state, version) VALUES ($1, $2, 1) "
        "ON CONFLICT (stream_id) DO UPDATE SET state = EXCLUDED.state, "
        "version = cmd_streams.version + 1",
        state.project_id, orjson.dumps(state.model_dump(mode="json")).decode(),
    )


async def processed_outcome(conn: asyncpg.Connection, command_id: str) -> dict[str, Any] | None:
    raw = await conn.fetchval(
        "SELECT outcome FROM cmd_processed WHERE command_id = $1 FOR UPDATE", command_id)
    return None if raw is None else orjson.loads(raw)


async def record_processed(conn: asyncpg.Connection, command_id: str,
                           outcome: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO cmd_processed (command_id, outcome) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING", command_id, orjson.dumps(outcome).decode(),
    )


async def record_deployments(conn: asyncpg.Connection, pairs: list[tuple[str, str]]) -> None:
    """Which project each new deployment is of (``deployment_id``, ``project_id``): the
    policy finds a deployment's team through it, without waiting for a read model."""
    await conn.executemany("INSERT INTO cmd_deployments VALUES ($1, $2) "
                           "ON CONFLICT DO NOTHING", pairs)
