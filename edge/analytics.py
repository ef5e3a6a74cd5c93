"""Request analytics for the edge: ``RequestLog.record()`` appends one row to an
in-memory buffer (the only cost on the request path) and a background task inserts the
buffer into ClickHouse's ``edge_requests`` table in batches, from a thread.

When ClickHouse fails, rows stay buffered up to ``max_rows``; past that the oldest are
dropped and counted in ``dropped``. Nothing here blocks or fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from schemas.analytics import COLUMNS, MAX_PATH, TABLE, table_ddl

log = logging.getLogger(__name__)

Row = tuple[float, str, str, str, str, int, int, float]
MAX_BACKOFF = 30.0


class RequestLog:
    """Buffers request rows and flushes them every ``flush_seconds`` or as soon as
    ``batch_rows`` are waiting.

    ``connect`` returns the ClickHouse client; it is called lazily from the flushing
    thread (so an unreachable server never delays the edge's start) and retried after a
    failure. ``lock`` guards the client: pass the lock of every other user of the same
    client (chdb's client is synchronous and in-process). ``RequestLog.sharing`` wraps a
    client someone else owns; a client from ``connect`` is closed by ``stop()``.
    """

    def __init__(self, connect: Callable[[], Any], *, lock: threading.Lock | None = None,
                 retention_days: int = 30, flush_seconds: float = 1.0,
                 batch_rows: int = 10_000, max_rows: int = 100_000,
                 owns_client: bool = True) -> None:
        self._connect = connect
        self._lock = lock or threading.Lock()
        self._owns_client = owns_client
        self._client: Any = None
        self._table_ready = False
        self.retention_days = retention_days
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self._rows: deque[Row] = deque(maxlen=max_rows)
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.inserted = 0
        self.dropped = 0

    @classmethod
    def sharing(cls, client: Any, lock: threading.Lock, **options: Any) -> RequestLog:
        """A recorder on a client another store owns (and closes), guarded by its lock."""
        return cls(lambda: client, lock=lock, owns_client=False, **options)

    def record(self, project_id: str, deployment_id: str, host: str, path: str, status: int,
               bytes_sent: int, duration_ms: float) -> None:
        """One served request, timestamped now. Call from the event loop's thread."""
        rows = self._rows
        if len(rows) == rows.maxlen:
            self.dropped += 1  # the append below pushes out the oldest row
        rows.append((time.time(), project_id, deployment_id, host, path, status, bytes_sent,
                     duration_ms))
        if len(rows) >= self.batch_rows and not self._wake.is_set():
            self._wake.set()

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="edge-analytics")

    async def stop(self, timeout: float = 5.0) -> None:
        """Flush what is left (for at most ``timeout`` seconds), then stop; rows that
        could not be written are counted as dropped."""
        self._closing.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except Exception:
                log.warning("request analytics: final flush did not finish", exc_info=True)
            self._task = None
        if self._rows:
            log.warning("request analytics: %d rows not written", len(self._rows))
        self.dropped += len(self._rows)
        self._rows.clear()
        if self._owns_client and self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self._close), timeout)

    async def flush(self) -> bool:
        """Insert everything buffered. False when ClickHouse failed: the rows are kept
        (the oldest dropped past ``max_rows``) for the next attempt."""
        async with self._flushing:
            while self._rows:
                batch = self._take()
                try:
                    await asyncio.to_thread(self._insert, batch)
                except Exception as exc:
                    self._put_back(batch)
                    log.warning("request analytics: insert of %d rows failed: %r",
                                len(batch), exc)
                    return False
                self.inserted += len(batch)
            return True

    async def _run(self) -> None:
        while not self._closing.is_set():
            await self._pause(self._wake, self.flush_seconds)
            self._wake.clear()
            backoff = self.flush_seconds
            while not await self.flush() and not self._closing.is_set():
                await self._pause(self._closing, backoff)  # a full buffer must not spin
                backoff = min(backoff * 2, MAX_BACKOFF)
        await self.flush()

    async def _pause(self, event: asyncio.Event, seconds: float) -> None:
        """Until ``event`` or ``stop()``, at most ``seconds``."""
        waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._closing.wait())}
        _, pending = await asyncio.wait(waits, timeout=seconds,
                                        return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    def _take(self) -> list[Row]:
        rows = self._rows
        if len(rows) <= self.batch_rows:
            batch = list(rows)
            rows.clear()
            return batch
        return [rows.popleft() for _ in range(self.batch_rows)]

    def _put_back(self, batch: list[Row]) -> None:
        """Requeue a failed batch ahead of newer rows, dropping the oldest past the bound."""
        rows = self._rows
        room = (rows.maxlen or 0) - len(rows)
        if len(batch) > room:
            self.dropped += len(batch) - room
            batch = batch[len(batch) - room:] if room else []
        rows.extendleft(reversed(batch))

    def _insert(self, batch: list[Row]) -> None:
        data = [[datetime.fromtimestamp(ts, UTC), project, deployment, host, path[:MAX_PATH],
                 status, size, duration]
                for ts, project, deployment, host, path, status, size, duration in batch]
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            if not self._table_ready:
                self._client.command(table_ddl(self.retention_days))
                self._table_ready = True
            self._client.insert(TABLE, data, column_names=COLUMNS)

    def _close(self) -> None:
        with self._lock:
            self._client.close()
