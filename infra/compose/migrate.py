"""Every role's tables, created in one transaction (idempotent), serialized across
processes by an advisory lock. Each role registers its own in ``<role>/tables.py``."""

from __future__ import annotations

import asyncpg

from commands.tables import SCHEMAS as WRITE_SIDE
from projections.tables import SCHEMAS as READ_SIDE
from streams.tables import SCHEMAS as WORKER

MIGRATION_LOCK = 7262021


async def migrate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        for schema in (*WRITE_SIDE, *READ_SIDE, *WORKER):
            await conn.execute(schema)
        # Data dirs from before accounts: the write side learns which project each
        # deployment is of (the policy's lookup) from the read model, once.
        await conn.execute("INSERT INTO cmd_deployments SELECT deployment_id, project_id "
                           "FROM deployments ON CONFLICT DO NOTHING")
