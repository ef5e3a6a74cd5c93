"""PostgreSQL and ClickHouse connections (each role registers its tables in
``<role>/tables.py``; ``infra.compose.migrate`` creates them)."""

from __future__ import annotations

import asyncio
from pathlib import Path
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


async def connect(settings: Settings) -> asyncpg.Connection:
    """A connection of its own, outside the pool: for a session that keeps its own
    settings and locks (a replay of the read models)."""
    if not settings.database_url:
        raise RuntimeError("database_url is not set (start the embedded stack first)")
    return await asyncpg.connect(settings.database_url)


def clickhouse_client(settings: Settings) -> Any:
    dsn = settings.clickhouse_dsn or f"chdb://{settings.data_path / 'clickhouse'}"
    if dsn.startswith("chdb://"):
        path = dsn.removeprefix("chdb://")
        if path and path != "memory":
            Path(path).mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(dsn=dsn)
