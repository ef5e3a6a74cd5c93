"""Idempotent projection: the rows and the tracking row ``(projection, topic,
partition, offset)`` are written in one transaction; a replayed event is a no-op and
events a projection ignores still advance its tracking.

An event appended twice (the outbox relay crashed between Kafka's acknowledgement and
its own commit) lands at two offsets with one ``event_id``: ``projected_events``
remembers the ids each projection applied, and the second is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg

from infra.kafka import Position

T = TypeVar("T")
Handler = Callable[[asyncpg.Connection], Awaitable[T]]


async def apply_once(pool: asyncpg.Pool, projection: str, position: Position,
                     handler: Handler[T], event_id: str | None = None
                     ) -> tuple[bool, T | None]:
    """Run ``handler`` unless ``position``, or the event ``event_id``, was already
    applied; returns (applied, result)."""
    async with pool.acquire() as conn, conn.transaction():
        stored = await conn.fetchval(
            'SELECT "offset" FROM projection_positions WHERE projection = $1 AND topic = $2 '
            "AND partition = $3 FOR UPDATE", projection, position.topic, position.partition)
        if stored is not None and position.offset <= stored:
            return False, None
        fresh = event_id is None or await conn.fetchval(
            "INSERT INTO projected_events (projection, event_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true", projection, event_id)
        result = await handler(conn) if fresh else None
        await conn.execute(
            'INSERT INTO projection_positions (projection, topic, partition, "offset") '
            "VALUES ($1, $2, $3, $4) ON CONFLICT (projection, topic, partition) "
            'DO UPDATE SET "offset" = EXCLUDED."offset"',
            projection, position.topic, position.partition, position.offset)
        return bool(fresh), result


async def positions_reached(conn: asyncpg.Connection, projection: str,
                            wanted: Iterable[Position]) -> bool:
    for pos in wanted:
        stored = await conn.fetchval(
            'SELECT "offset" FROM projection_positions WHERE projection = $1 AND topic = $2 '
            "AND partition = $3", projection, pos.topic, pos.partition)
        if stored is None or stored < pos.offset:
            return False
    return True


async def wait_for(pool: asyncpg.Pool, projection: str, wanted: Iterable[Position],
                   timeout: float) -> bool:
    """Wait (bounded) until ``projection`` has applied every position in ``wanted``."""
    wanted = list(wanted)
    if not wanted:
        return True
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        async with pool.acquire() as conn:
            if await positions_reached(conn, projection, wanted):
                return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
