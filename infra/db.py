"""PostgreSQL and ClickHouse connections, and the schema migrations of each owner."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import clickhouse_connect

from infra.settings import Settings


async def open_pool(settings: Settings, *, max_size: int = 10) -> asyncpg.Pool:
    if not settings.database_url:
        raise RuntimeError("database_url is not set (start the embedded stack first)")
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            return await asyncpg.create_pool(settings.database_url, min_size=1,
                                             max_size=max_size)
        except (OSError, asyncpg.CannotConnectNowError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def migrate(pool: asyncpg.Pool) -> None:
    """Create every table (idempotent); serialized across processes by an advisory lock."""
    from commands.hook_store import SCHEMA as HOOKS_WRITE_SIDE
    from commands.lifecycle_store import SCHEMA as LIFECYCLE_WRITE_SIDE
    from commands.store import SCHEMA as WRITE_SIDE
    from projections.hooks import SCHEMA as HOOKS_READ_MODEL
    from projections.outgoing import SCHEMA as OUTGOING_WEBHOOKS
    from projections.schema import SCHEMA as READ_MODELS
    from streams.artifact_gc import SCHEMA as ARTIFACT_COLLECTIONS

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7262021)")
        await conn.execute(WRITE_SIDE)
        await conn.execute(READ_MODELS)
        await conn.execute(HOOKS_WRITE_SIDE)
        await conn.execute(HOOKS_READ_MODEL)
        await conn.execute(LIFECYCLE_WRITE_SIDE)
        await conn.execute(OUTGOING_WEBHOOKS)
        await conn.execute(ARTIFACT_COLLECTIONS)


def clickhouse_client(settings: Settings) -> Any:
    dsn = settings.clickhouse_dsn or f"chdb://{settings.data_path / 'clickhouse'}"
    if dsn.startswith("chdb://"):
        path = dsn.removeprefix("chdb://")
        if path and path != "memory":
            from pathlib import Path

            Path(path).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)
