"""Rebuild read models from the first event into fresh tables, then swap them in while
the API keeps answering (``buildspace replay``; ``POST /v1/replays``; the operator's
view is in docs/operations.md).

Fresh tables in a schema of their own, from the live DDL (same column order, so the
running processes' prepared statements survive the swap); ``buildspace.events`` read
from its start up to where each live projection is, never past it (what a projection
does besides its rows, publishing routes or enqueuing webhooks, happens once, live);
then one transaction locks the projections' tracking rows and tables, applies the last
events up to exactly the live positions and swaps the schemas' tables. Its locks wait
at most ``LOCK_TIMEOUT_MS``, below PostgreSQL's deadlock_timeout, so no reader is ever
a deadlock's victim; it tries again. A replay that fails or is stopped before the swap
changes nothing; a crashed one's schemas go at the next replay.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import asyncpg
from pydantic import ValidationError

from infra import actors
from infra.db import connect
from infra.settings import Settings
from infra.topic_reader import Record, TopicReader
from projections.registry import Replayable
from projections.tables import SCHEMAS
from schemas.errors import Conflict, Unavailable
from schemas.events import ControlEvent, parse_event
from schemas.replays import Phase, ReplayLine, ReplayProgress, ReplayStarted, ReplaySwapped

REPLAY_LOCK = 7262030
BATCH = 500
LOCK_TIMEOUT_MS = 250
SWAP_TRIES = 40
CATCH_UP_ROUNDS = 10
SWAP_LAG = 100  # events left for the swap's own transaction
PROGRESS_EVERY_S = 0.5
FRESH, REPLACED = "buildspace_replay_", "buildspace_replaced_"
COLUMNS = ("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
           "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")

Offsets = dict[str, dict[int, int]]  # projection -> partition -> last offset applied


def parsed(record: Record) -> ControlEvent | None:
    try:
        return parse_event(record.value) if record.value is not None else None
    except (ValidationError, ValueError):
        return None


class Replay:
    """``begin()`` (the lock, the fresh tables), then iterate ``run()``, then ``close()``."""

    def __init__(self, settings: Settings, conn: asyncpg.Connection,
                 chosen: Sequence[Replayable]) -> None:
        self.settings, self.conn, self.topic = settings, conn, settings.topic_events
        self.names = [p.name for p in chosen]
        self.tables = [t for p in chosen for t in p.tables]
        self.appliers = {p.name: p.applier(settings) for p in chosen}
        self.schema = FRESH + secrets.token_hex(6)
        self.replaced: str | None = None
        self.reader = TopicReader(settings, self.topic)
        self.done: Offsets = {name: {} for name in self.names}
        self.tally: Counter[str] = Counter()
        self.started = time.monotonic()

    @classmethod
    async def begin(cls, settings: Settings, chosen: Sequence[Replayable]) -> Replay:
        """The replay lock (``Conflict`` while another replay runs) and the fresh
        tables (``Conflict`` when a live table's columns differ from its DDL)."""
        conn = await connect(settings)
        replay = cls(settings, conn, chosen)
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", REPLAY_LOCK):
                raise Conflict("a replay is running already: wait for it to end")
            await replay._prepare()
            await replay.reader.start()
        except BaseException:
            await replay.close()
            raise
        return replay

    async def _prepare(self) -> None:
        leftovers = await self.conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 OR nspname LIKE $2",
            FRESH.replace("_", r"\_") + "%", REPLACED.replace("_", r"\_") + "%")
        for row in leftovers:  # of a replay that crashed: the lock says none runs
            await self.conn.execute(f'DROP SCHEMA "{row[0]}" CASCADE')
        async with self.conn.transaction():
            await self.conn.execute(f'CREATE SCHEMA "{self.schema}"')
            await self.conn.execute(f'SET LOCAL search_path TO "{self.schema}"')
            for script in SCHEMAS:
                await self.conn.execute(script)
        for table in self.tables:
            live = [tuple(r) for r in await self.conn.fetch(COLUMNS, f"public.{table}")]
            fresh = [tuple(r) for r in await self.conn.fetch(COLUMNS, f'"{self.schema}".{table}')]
            if live != fresh:
                raise Conflict(f"the live table {table} does not have the columns its "
                               "definition makes, in that order: the running processes' "
                               "queries would break on a swap")
        await self.conn.execute(f'SET search_path TO "{self.schema}"')

    async def run(self) -> AsyncIterator[ReplayLine]:
        """Replay, catch up, swap: the progress as it goes, the summary last."""
        live = await self._live()
        yield ReplayStarted(projections=self.names, partitions=len(self.reader.partitions),
                            events=self._total(live))
        async for line in self._replay(live, "replaying"):
            yield line
        for _ in range(CATCH_UP_ROUNDS):
            live = await self._live()
            if self._lag(live) <= SWAP_LAG:
                break
            async for line in self._replay(live, "catching-up"):
                yield line
        swap_seconds = await self._swap()
        yield ReplaySwapped(
            projections=self.names, tables=self.tables,
            events_read=self.tally["read"], applied=self._applied(),
            malformed=self.tally["malformed"], duplicates=self.tally["duplicates"],
            swap_seconds=round(swap_seconds, 3), elapsed_seconds=self._elapsed())

    async def close(self) -> None:
        """Drop what is left (fresh tables not swapped in, replaced ones) and let go."""
        await self.reader.stop()
        try:
            for schema in (self.replaced, self.schema):
                if schema:
                    await self.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await self.conn.close()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            self.conn.terminate()  # the next replay drops the schemas

    async def _live(self) -> Offsets:
        rows = await self.conn.fetch(
            'SELECT projection, partition, "offset" FROM public.projection_positions '
            "WHERE topic = $1 AND projection = ANY($2::text[])", self.topic, self.names)
        live: Offsets = {name: {} for name in self.names}
        for name, partition, offset in rows:
            live[name][partition] = offset
        return live

    def _total(self, live: Offsets) -> int:
        return sum(max(live[n].get(p, -1) for n in self.names) + 1
                   for p in self.reader.partitions)

    def _lag(self, live: Offsets) -> int:
        return sum(live[n].get(p, -1) - self.done[n].get(p, -1)
                   for n in self.names for p in self.reader.partitions)

    async def _batches(self, live: Offsets) -> AsyncIterator[list[Record]]:
        """The records some projection has yet to apply, up to ``live``."""
        parts = self.reader.partitions
        after = {p: min(self.done[n].get(p, -1) for n in self.names) for p in parts}
        upto = {p: max(live[n].get(p, -1) for n in self.names) for p in parts}
        batch: list[Record] = []
        async for record in self.reader.read(after, upto):
            batch.append(record)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def _replay(self, live: Offsets, phase: Phase) -> AsyncIterator[ReplayProgress]:
        reported = time.monotonic()
        async for batch in self._batches(live):
            done, counts = self._copy(), Counter[str]()
            async with self.conn.transaction():
                await self._apply(batch, live, done, counts)
            self.done, self.tally = done, self.tally + counts
            if time.monotonic() - reported >= PROGRESS_EVERY_S:
                reported = time.monotonic()
                yield self._progress(live, phase)
        yield self._progress(live, phase)

    async def _apply(self, batch: list[Record], live: Offsets, done: Offsets,
                     counts: Counter[str]) -> None:
        """Each record into each projection that has yet to apply it (in ``done``)."""
        for record in batch:
            part, offset = record.position.partition, record.position.offset
            due = [n for n in self.names
                   if done[n].get(part, -1) < offset <= live[n].get(part, -1)]
            counts["read"] += bool(due)
            event = parsed(record) if due else None
            counts["malformed"] += bool(due) and event is None
            for name in due:
                done[name][part] = offset
                if event is None:
                    continue
                if not await self.conn.fetchval(
                        "INSERT INTO projected_events (projection, event_id) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING RETURNING true", name, event.event_id):
                    counts["duplicates"] += 1
                    continue
                await self.appliers[name](self.conn, event, actors.from_headers(record.headers))
                counts[f"applied:{name}"] += 1

    async def _swap(self) -> float:
        for attempt in range(SWAP_TRIES):
            try:
                return await self._swap_once()
            except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
                await asyncio.sleep(min(0.05 * 2 ** attempt, 1.0))
                async for _ in self._replay(await self._live(), "catching-up"):
                    pass
        raise Unavailable(f"the live read models stayed busy: no swap in {SWAP_TRIES} "
                          "tries, nothing changed")

    async def _swap_once(self) -> float:
        started, conn = time.monotonic(), self.conn
        replaced = REPLACED + self.schema.removeprefix(FRESH)
        done, counts = self._copy(), Counter[str]()
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
            await conn.execute(
                "SELECT 1 FROM public.projection_positions WHERE topic = $1 AND "
                "projection = ANY($2::text[]) ORDER BY projection, partition FOR UPDATE",
                self.topic, self.names)
            await conn.execute(f"LOCK TABLE {', '.join(f'public.{t}' for t in self.tables)} "
                               "IN ACCESS EXCLUSIVE MODE")
            live = await self._live()
            async for batch in self._batches(live):
                await self._apply(batch, live, done, counts)
            if done != {n: {p: o for p, o in live[n].items() if o >= 0} for n in self.names}:
                raise Unavailable("the replay could not reach the live positions")
            await conn.execute(f'CREATE SCHEMA "{replaced}"')
            for table in self.tables:
                await conn.execute(f'ALTER TABLE public.{table} SET SCHEMA "{replaced}"')
            for table in self.tables:
                await conn.execute(f'ALTER TABLE "{self.schema}".{table} SET SCHEMA public')
            await conn.execute("DELETE FROM public.projected_events "
                               "WHERE projection = ANY($1::text[])", self.names)
            await conn.execute(
                "INSERT INTO public.projected_events SELECT projection, event_id FROM "
                f'"{self.schema}".projected_events WHERE projection = ANY($1::text[])',
                self.names)
        self.done, self.tally, self.replaced = done, self.tally + counts, replaced
        return time.monotonic() - started

    def _copy(self) -> Offsets:
        return {name: dict(offsets) for name, offsets in self.done.items()}

    def _applied(self) -> dict[str, int]:
        return {name: self.tally[f"applied:{name}"] for name in self.names}

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3)

    def _progress(self, live: Offsets, phase: Phase) -> ReplayProgress:
        return ReplayProgress(phase=phase, events_read=self.tally["read"],
                              events_total=self._total(live), applied=self._applied(),
                              elapsed_seconds=self._elapsed())
