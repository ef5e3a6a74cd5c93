"""The transactional outbox: the command side's events are written to PostgreSQL in the
same transaction as its write-side state, and a relay appends them to Kafka after the
commit, with the idempotent producer, in the order they were staged.

A crash before the commit leaves nothing; after it, the relay (in any API or worker
process: ``RELAY_LOCK`` lets one relay at a time) appends what is left. A crash between
the append and the relay's own commit appends a record twice: every projection skips an
event id it has applied (``projections.tracking``), so the effect is once.

Published rows keep where they landed for ``KEEP_PUBLISHED`` (a caller waiting to read
its own writes looks them up), then go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

import asyncpg
import orjson
from pydantic import BaseModel

from infra import actors, idempotency
from infra.kafka import EventLog, Position
from schemas.envelope import dumps
from schemas.errors import Unavailable

log = logging.getLogger("buildspace.outbox")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key bytea,
    value bytea,
    headers jsonb NOT NULL DEFAULT '[]',
    staged_at timestamptz NOT NULL DEFAULT now(),
    partition integer,
    "offset" bigint,
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
"""
RELAY_LOCK = 7262023
BATCH = 500
POLL_S = 0.1  # how often a relay looks for rows staged by another process
KEEP_PUBLISHED = "1 hour"


async def stage(conn: asyncpg.Connection, topic: str, key: str, event: BaseModel | None
                ) -> int:
    """Write ``event`` (None: a tombstone) for ``topic`` in ``conn``'s transaction, with
    the current actor's header; returns its outbox id."""
    return await stage_raw(conn, topic, key.encode(), None if event is None else dumps(event),
                           [actors.header()], getattr(event, "event_id", None))


async def stage_raw(conn: asyncpg.Connection, topic: str, key: bytes | None,
                    value: bytes | None, headers: Sequence[tuple[str, bytes]] = (),
                    event_id: str | None = None) -> int:
    """Write a record as is (a redriven dead letter, say) in ``conn``'s transaction; the
    request's ``Idempotency-Key``, if any, is claimed in the same transaction."""
    await idempotency.claim_in(conn, event_id)
    encoded = orjson.dumps([[name, raw.decode("utf-8", "replace")] for name, raw in headers])
    staged: int = await conn.fetchval(
        "INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4) RETURNING id",
        topic, key, value, encoded.decode())
    return staged


class Relay:
    """Appends committed outbox rows to Kafka; ``published`` waits for given rows."""

    def __init__(self, pool: asyncpg.Pool, events: EventLog) -> None:
        self.pool = pool
        self.events = events
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._landed: dict[int, Position] = {}
        self._last_sweep = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    @property
    def task(self) -> asyncio.Task[None]:
        """Running until stopped: it ends only on an unexpected error (the process
        then ends, and its supervisor restarts it)."""
        assert self._task is not None, "start() first"
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        self._kick.set()

    async def published(self, ids: Sequence[int], timeout: float) -> list[Position]:
        """Where the rows ``ids`` landed, once relayed (by any process), waiting at most
        ``timeout``: the positions known by then (the rest are still on their way)."""
        if not ids:
            return []
        self.kick()
        wanted, found = set(ids), {}
        deadline, delay = time.monotonic() + timeout, 0.002
        while True:
            for i in list(wanted):
                if i in self._landed:
                    found[i] = self._landed.pop(i)
                    wanted.discard(i)
            if wanted:
                async with self.pool.acquire() as conn:
                    for row in await conn.fetch(
                            'SELECT id, topic, partition, "offset" FROM outbox '
                            "WHERE id = ANY($1) AND published_at IS NOT NULL", list(wanted)):
                        found[row["id"]] = Position(row["topic"], row["partition"],
                                                    row["offset"])
                        wanted.discard(row["id"])
            if not wanted or time.monotonic() >= deadline:
                return [found[i] for i in ids if i in found]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def relay_once(self) -> int:
        """Append one batch of committed rows, oldest first; the rows are marked in the
        same transaction that holds the relay lock. Returns how many were appended."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return 0
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox WHERE published_at IS NULL "
                "ORDER BY id LIMIT $1", BATCH)
            if not rows:
                await self._sweep(conn)
                return 0
            landed = await self.events.append_batch([
                (r["topic"], r["key"], r["value"],
                 [(name, text.encode()) for name, text in orjson.loads(r["headers"])])
                for r in rows])
            await conn.executemany(
                'UPDATE outbox SET published_at = now(), partition = $2, "offset" = $3 '
                "WHERE id = $1", [(r["id"], p.partition, p.offset)
                                  for r, p in zip(rows, landed, strict=True)])
        for r, p in zip(rows, landed, strict=True):
            self._landed[r["id"]] = p
        if len(self._landed) > 10 * BATCH:  # nobody waited for these
            for i in sorted(self._landed)[:len(self._landed) - BATCH]:
                del self._landed[i]
        return len(rows)

    async def _sweep(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._last_sweep < 60:
            return
        self._last_sweep = time.monotonic()
        await conn.execute("DELETE FROM outbox WHERE published_at < now() - interval "
                           f"'{KEEP_PUBLISHED}'")
        await idempotency.forget_old(conn)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if await self.relay_once() == BATCH:
                    continue
                failures = 0
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, Unavailable,
                    TimeoutError) as exc:
                # Kafka or PostgreSQL is away: the rows wait in the outbox, nothing is lost.
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("outbox relay: %s (%s); retrying", exc, type(exc).__name__)
                await asyncio.sleep(min(0.1 * failures, 2.0))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), POLL_S)
            self._kick.clear()
