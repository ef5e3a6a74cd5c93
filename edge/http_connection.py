"""One HTTP/1.1 connection of the edge's server: its reader (``edge.http_reader``)
parses requests, the app responds, the connection writes the answers and keeps time.

Requests are answered strictly in order (pipelining included): each runs the app in a
task, and requests parsed meanwhile queue behind it. Limits and
timeouts are in ``edge.http_server.Limits``; a bad request gets its 4xx and the
connection closes; WebSocket upgrades are refused with 400.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import deque
from typing import TYPE_CHECKING, cast

from edge.http_reader import Item, RequestReader
from edge.http_wire import Scope, address, error_response, head_for
from edge.response_cache import Replay, one_head
from edge.responses import Response

if TYPE_CHECKING:  # the server makes its connections; a connection only reports to it
    from edge.http_server import HttpServer

log = logging.getLogger(__name__)
NEVER = math.inf
LINGER = 2.0  # seconds to drain a rejected client's input before closing
MAX_QUEUED = 32  # pipelined requests parsed ahead before we stop reading


class Connection(RequestReader, asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        super().__init__(server.limits)
        self.server = server
        self.respond = server.respond
        self.respond_now = server.respond_now
        self.transport: asyncio.Transport | None = None
        self.deadline = NEVER
        self.queue: deque[Item] = deque()
        self.task: asyncio.Task[Response] | None = None
        self.write_paused = self.read_paused = self.closing = False
        self.head: bytes | None = None  # this chunk, when it is one whole request head

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.client = address(transport.get_extra_info("peername"))
        self.sockname = address(transport.get_extra_info("sockname"))
        self.server.connections.add(self)
        self.deadline = self.server.now + self.limits.request_timeout
        if self.server.stopping:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.queue.clear()
        if self.task is not None:
            self.task.cancel()
        self.server.closed(self)

    def data_received(self, data: bytes) -> None:
        if self.ignore_input:
            return
        idle = not (self.in_message or self.task or self.queue or self.write_paused)
        if idle and self.replay(data):
            return
        self.head = data if idle and one_head(data) else None
        try:
            self.feed(data)
        finally:
            self.head = None

    def pause_writing(self) -> None:
        self.write_paused = True
        self.deadline = self.server.now + self.limits.send_timeout
        self.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.settle()
        self.drain()

    # what the reader reports

    def request_began(self) -> None:
        self.deadline = self.server.now + self.limits.request_timeout

    def request_read(self, item: Item) -> None:
        if not self.write_paused:
            self.deadline = NEVER
        self.dispatch(item)

    # requests and responses

    def dispatch(self, item: Item) -> None:
        if self.closing:
            return
        if self.task is not None or self.queue or self.write_paused:
            self.queue.append(item)
            if len(self.queue) >= MAX_QUEUED:
                self.pause_reading()
            return
        self.handle(item)

    def handle(self, item: Item) -> None:
        scope, keep_alive, status = item
        if scope is None:
            self.write(error_response(status), None, False)
            return
        if self.respond_now is not None:
            hit = self.respond_now(scope)
            if hit is not None:  # a cached answer: no task, no await
                if self.head is not None:  # the same bytes again: answered unparsed
                    self.server.replays.put(self.head, Replay(hit, scope, keep_alive))
                self.write(hit.response, scope, keep_alive)
                return
        task = asyncio.get_running_loop().create_task(self.respond(scope))
        task.add_done_callback(functools.partial(self.finished, scope, keep_alive))
        self.task = task

    def replay(self, data: bytes) -> bool:
        """Answer ``data`` as the cached answer to the same bytes before, if there is one
        still valid; False when it must be parsed."""
        replay = self.server.replays.get(data)
        if replay is None:
            return False
        replay.hit.count()
        self.write(replay.hit.response, replay.scope, replay.keep_alive)
        return True

    def finished(self, scope: Scope, keep_alive: bool, task: asyncio.Task[Response]) -> None:
        self.task = None
        if task.cancelled():
            return  # the connection is gone
        if task.exception() is not None:
            log.error("edge: responding to %s %s failed", scope["method"], scope["path"],
                      exc_info=task.exception())
            self.write(error_response(500), scope, keep_alive)
        else:
            self.write(task.result(), scope, keep_alive)
        self.drain()

    def drain(self) -> None:
        while self.queue and self.task is None and not self.write_paused and not self.closing:
            self.handle(self.queue.popleft())
        if self.read_paused and not self.queue and not self.write_paused and not self.closing:
            self.read_paused = False
            assert self.transport is not None
            self.transport.resume_reading()

    def write(self, response: Response, scope: Scope | None, keep_alive: bool) -> None:
        """Status line, headers and body in one write; ``scope`` None for a bad request."""
        if self.closing or self.transport is None:
            return
        keep_alive = keep_alive and not self.server.stopping
        version = "1.1" if scope is None else scope["http_version"]
        head = head_for(response, self.server.date, keep_alive, version)
        if head is None:
            log.error("edge: refusing a response with a line break in a header: %r",
                      response.headers)
            return self.write(error_response(500), scope, keep_alive)
        body = b"" if scope is not None and scope["method"] == "HEAD" else response.body
        if len(body) > 16384:
            self.transport.writelines((head, body))  # no copy of a big body
        else:
            self.transport.write(head + body)
        if keep_alive:
            self.settle()
        elif scope is None:
            self.linger()
        else:
            self.close()

    def fail(self, status: int) -> None:
        """Answer a bad request (after those before it) and close. Input is read and
        dropped meanwhile: closing with unread input would reset the connection, and
        the client could lose the answer."""
        self.ignore_input = True
        self.dispatch((None, False, status))

    # lifecycle

    def settle(self) -> None:
        """Set the deadline for what the connection waits for now."""
        if self.write_paused or self.in_message:
            return
        if self.task is not None or self.queue:
            self.deadline = NEVER
        else:
            self.deadline = self.server.now + self.limits.keepalive_timeout

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closing:
            self.read_paused = True
            self.transport.pause_reading()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()  # after what is buffered has been sent

    def linger(self) -> None:
        """Close our side now, the connection once the client closes its side (or a
        short while later), dropping what it still sends."""
        self.closing = True
        assert self.transport is not None
        self.transport.write_eof()
        self.deadline = self.server.now + LINGER

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def shutdown(self) -> None:
        """Server stopping: close now if idle, else after the response in flight."""
        if self.task is None and not self.queue and not self.in_message:
            self.close()

    def timed_out(self) -> None:
        self.abort() if self.write_paused else self.close()
