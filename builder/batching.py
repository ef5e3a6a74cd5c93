"""Line batching shared by the builder's emitters (Kafka and HTTP): every line gets the
next ``seq``; lines go out in batches, but no line waits more than ``LINGER_S``; a
heartbeat runs while the emitter is open. Subclasses say how a batch and a heartbeat
are delivered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, cast

from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.envelope import utcnow
from schemas.logs import LogLine

log = logging.getLogger("buildspace.builder")
Stream = Literal["stdout", "stderr", "system"]
LINGER_S = 0.02
MAX_BATCH_LINES = 500
MAX_BATCH_BYTES = 256 * 1024


class LineBatcher:
    def __init__(self, settings: Settings, spec: BuildSpec) -> None:
        self.settings = settings
        self.spec = spec
        self.seq = 0
        self._pending: list[LogLine] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._flushes: set[asyncio.Task[None]] = set()
        self._beating: asyncio.Task[None] | None = None

    async def _deliver(self, lines: list[LogLine]) -> None:
        """Send one batch (called in seq order, under the lock)."""
        raise NotImplementedError

    async def _heartbeat(self) -> None:
        """Send one heartbeat."""
        raise NotImplementedError

    def _start_beating(self) -> None:
        if self.settings.heartbeat_seconds > 0:
            self._beating = asyncio.create_task(self._beat(), name="heartbeat")

    async def _stop_beating(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)

    @property
    def beating(self) -> bool:
        """Heartbeats are being sent (from ``__aenter__`` until ``__aexit__``)."""
        return self._beating is not None and not self._beating.done()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            await self._heartbeat()

    async def line(self, stream: str, text: str) -> None:
        self.seq += 1
        kind = cast(Stream, stream if stream in ("stdout", "stderr") else "system")
        self._pending.append(LogLine(seq=self.seq, stream=kind, ts=utcnow(), line=text))
        self._pending_bytes += len(text) + 80
        if len(self._pending) >= MAX_BATCH_LINES or self._pending_bytes >= MAX_BATCH_BYTES:
            await self._send_pending()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LINGER_S, self._linger_over)

    async def system(self, text: str) -> None:
        await self.line("system", text)

    async def flush(self) -> None:
        """Send what is pending and wait for the batches whose linger ran out."""
        await self._send_pending()
        flushes, self._flushes = self._flushes, set()
        await asyncio.gather(*flushes)

    def _linger_over(self) -> None:
        task = asyncio.ensure_future(self._send_pending())
        self._flushes.add(task)
        task.add_done_callback(self._forget_if_fine)

    def _forget_if_fine(self, task: asyncio.Task[None]) -> None:
        """A failed send is kept, so the next ``flush`` raises it."""
        if task.cancelled() or task.exception() is None:
            self._flushes.discard(task)

    async def _send_pending(self) -> None:
        """Deliver the pending batch; the lock keeps batches in seq order."""
        async with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if not self._pending:
                return
            lines, self._pending, self._pending_bytes = self._pending, [], 0
            await self._deliver(lines)
