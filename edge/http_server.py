"""The edge's HTTP/1.1 server: a listening socket, its connections, a coarse clock.

Built for one job, serving ``respond(scope) -> Response`` fast: no ASGI message passing,
no task per request when the response is ready at once (see ``edge.http_connection``),
one write per response, header timestamps and timeouts driven by a once-a-second tick
instead of per-request timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from edge.http_connection import Connection
from edge.http_wire import Scope
from edge.response_cache import Hit, Replays
from edge.responses import Response

Respond = Callable[[Scope], Coroutine[Any, Any, Response]]
RespondNow = Callable[[Scope], Hit | None]


@dataclass(frozen=True)
class Limits:
    """Request size limits (bytes) and timeouts (seconds, checked once a second)."""

    max_url: int = 8192  # -> 414
    max_head: int = 16384  # header lines, -> 431
    max_headers: int = 100  # -> 431
    max_body: int = 1 << 20  # -> 413
    keepalive_timeout: float = 15.0  # idle between requests
    request_timeout: float = 15.0  # to receive a whole request once it has begun
    send_timeout: float = 30.0  # a client not reading what we send


class HttpServer:
    """``await start(sock)``, then ``await wait()`` until ``await stop()``."""

    def __init__(self, respond: Respond, limits: Limits | None = None,
                 respond_now: RespondNow | None = None) -> None:
        self.respond = respond
        self.respond_now = respond_now  # an answer at hand, without a task; else None
        self.replays = Replays()  # request heads seen before, and their cached answers
        self.limits = limits or Limits()
        self.connections: set[Any] = set()  # edge.http_connection.Connection
        self.stopping = False
        self.now = 0.0  # loop time, refreshed by the tick
        self.date = _date_line()
        self._server: asyncio.AbstractServer | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.now = loop.time()
        self._server = await loop.create_server(lambda: Connection(self), sock=sock,
                                                backlog=2048)
        self._tick_task = asyncio.create_task(self._tick(), name="edge-http-clock")

    async def wait(self) -> None:
        """Return once ``stop()`` was called; raise what the server failed of, if it did."""
        assert self._tick_task is not None, "start() first"
        try:
            await asyncio.shield(self._tick_task)
        except asyncio.CancelledError:
            if not self._tick_task.cancelled():
                raise  # we were cancelled, not the server stopped

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting; close idle connections now, busy ones after the response in
        flight (with ``connection: close``), and abort whatever remains after ``grace``."""
        if self._server is None or self.stopping:
            return
        self.stopping = True
        self._server.close()
        for connection in list(self.connections):
            connection.shutdown()
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), grace)
        for connection in list(self.connections):
            connection.abort()
        if self._tick_task is not None:
            self._tick_task.cancel()
            await asyncio.gather(self._tick_task, return_exceptions=True)
        await self._server.wait_closed()

    def closed(self, connection: Any) -> None:
        self.connections.discard(connection)
        if self.stopping and not self.connections:
            self._drained.set()

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0 - time.time() % 1.0)  # just past each second
            self.now = loop.time()
            self.date = _date_line()
            for connection in [c for c in self.connections if c.deadline <= self.now]:
                connection.timed_out()


def _date_line() -> bytes:
    return b"date: " + formatdate(usegmt=True).encode() + b"\r\n"


def bind_shared(host: str, port: int) -> socket.socket:
    """A listening address every edge process binds: SO_REUSEPORT, so N processes share
    it and the kernel spreads connections among them. Port 0 picks a free one; a busy
    port raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
