"""Request analytics for the edge: ``RequestLog.record()`` counts one request into an
in-memory row (the only cost on the request path): requests with the same deployment,
host, path and status between two flushes (a second) share a row, with their count,
total bytes and mean duration. A background task turns the rows into
``EdgeRequestsServed`` batches, one per project, and publishes them (to
``buildspace.requests``; the worker projects them into ClickHouse). Sharing rows keeps
the cost flat when a site is busy: a row per request cost a fifth of the edge's time.

A batch keeps its id until it is published, so a retried batch is the same batch and
the projection stores it once. While publishing fails, rows stay buffered up to
``max_rows``; requests past that are dropped and counted in ``dropped``. Nothing here
blocks or fails a request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from schemas.analytics import MAX_PATH, EdgeRequestsServed, RequestRecord

log = logging.getLogger(__name__)

RowKey = tuple[str, str, str, str, int]  # project, deployment, host, path, status


def row_key(project_id: str, deployment_id: str, host: str, path: str, status: int
            ) -> RowKey:
    return (project_id, deployment_id, host, path[:MAX_PATH], status)
Publish = Callable[[EdgeRequestsServed], Awaitable[object]]
MAX_BACKOFF = 30.0


class RequestLog:
    """Buffers request rows and publishes them every ``flush_seconds`` or as soon as
    ``batch_rows`` are waiting; a batch holds at most ``batch_rows`` rows (a Kafka
    message stays well under 1 MB)."""

    def __init__(self, publish: Publish, *, flush_seconds: float = 1.0,
                 batch_rows: int = 500, max_rows: int = 100_000) -> None:
        self._publish = publish
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self.max_rows = max_rows
        self._rows: dict[RowKey, list[float]] = {}  # -> [count, bytes, ms, first ts]
        self._batches: deque[EdgeRequestsServed] = deque()  # sealed, not yet published
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.published = 0
        self.dropped = 0

    def record(self, project_id: str, deployment_id: str, host: str, path: str, status: int,
               bytes_sent: int, duration_ms: float) -> None:
        """One served request, timestamped now. Call from the event loop's thread."""
        self.add(row_key(project_id, deployment_id, host, path, status), bytes_sent,
                 duration_ms)

    def add(self, key: RowKey, bytes_sent: int, duration_ms: float) -> None:
        """``record`` with the row's key made already (``row_key``): a cached answer
        given again and again counts into the same row."""
        row = self._rows.get(key)
        if row is not None:
            row[0] += 1
            row[1] += bytes_sent
            row[2] += max(duration_ms, 0.0)
            return
        if len(self._rows) >= self.max_rows:
            self.dropped += 1
            return
        self._rows[key] = [1, bytes_sent, max(duration_ms, 0.0), time.time()]
        if len(self._rows) >= self.batch_rows and not self._wake.is_set():
            self._wake.set()

    @property
    def buffered(self) -> int:
        """Requests not yet published."""
        return (sum(int(row[0]) for row in self._rows.values())
                + sum(r.count for b in self._batches for r in b.requests))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="edge-analytics")

    async def stop(self, timeout: float = 5.0) -> None:
        """Publish what is left (for at most ``timeout`` seconds), then stop; rows that
        could not be published are counted as dropped."""
        self._closing.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except Exception:
                log.warning("request analytics: final flush did not finish", exc_info=True)
            self._task = None
        if self.buffered:
            log.warning("request analytics: %d rows not published", self.buffered)
        self.dropped += self.buffered
        self._rows.clear()
        self._batches.clear()

    async def flush(self) -> bool:
        """Publish everything buffered. False when publishing failed: what is left stays
        buffered (the oldest rows dropped past ``max_rows``) for the next attempt."""
        async with self._flushing:
            while self._batches or self._rows:
                if not self._batches:
                    self._seal()  # a batch at a time: the event loop is never held long
                batch = self._batches[0]
                try:
                    await self._publish(batch)
                except Exception as exc:
                    log.warning("request analytics: publishing %d rows failed: %r",
                                len(batch.requests), exc)
                    return False
                self._batches.popleft()
                self.published += sum(r.count for r in batch.requests)
            return True

    def _seal(self) -> None:
        """The oldest ``batch_rows`` rows become batches, one per project."""
        by_project: dict[str, list[RequestRecord]] = defaultdict(list)
        for key in list(itertools.islice(self._rows, self.batch_rows)):
            project, deployment, host, path, status = key
            count, size, duration, ts = self._rows.pop(key)
            by_project[project].append(RequestRecord(
                ts=datetime.fromtimestamp(ts, UTC), deployment_id=deployment, host=host,
                path=path, status=status, count=int(count), bytes=int(size),
                duration_ms=duration / count))
        self._batches.extend(
            EdgeRequestsServed(stream_id=project, project_id=project, requests=records)
            for project, records in by_project.items())

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
