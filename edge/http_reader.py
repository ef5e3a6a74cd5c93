"""Reading requests off one HTTP/1.1 connection of the edge's server: httptools parses
the bytes, the callbacks here bound the URL, the head and the body (a request over a
limit of ``edge.http_server.Limits`` is rejected with its 4xx) and turn each request
into its scope. ``edge.http_connection`` answers what is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

import httptools

from edge.http_wire import Scope, split_target

if TYPE_CHECKING:  # the server's limits, passed in; the server makes its connections
    from edge.http_server import Limits

ASGI = {"version": "3.0", "spec_version": "2.3"}
Item = tuple[Scope | None, bool, int]  # (scope, keep-alive, status if the request was bad)


class _Reject(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class RequestReader:
    """httptools' callbacks for one connection. A subclass answers what is read:
    ``request_began``, ``request_read`` (each whole request, in order) and ``fail`` (a
    bad one, with its status)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parser = httptools.HttpRequestParser(self)
        self.in_message = self.reading_head = self.ignore_input = False
        self.messages = self.head_fed = self.head_size = self.body_size = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.request: Item = (None, False, 400)
        self.client: tuple[str, int] | None = None
        self.sockname: tuple[str, int] | None = None

    def request_began(self) -> None:
        raise NotImplementedError

    def request_read(self, item: Item) -> None:
        raise NotImplementedError

    def fail(self, status: int) -> None:
        raise NotImplementedError

    def feed(self, data: bytes) -> None:
        """Parse ``data``: each whole request is read, a bad one failed."""
        messages, reading = self.messages, self.reading_head
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.ignore_input = True  # answered as a plain request, then closed
            return
        except httptools.HttpParserError as exc:
            reject = exc.__context__
            self.fail(reject.status if isinstance(reject, _Reject) else 400)
            return
        if self.reading_head:
            # A header httptools is still buffering: bound it (the head may have begun
            # somewhere in this chunk, so count whole chunks only after that one).
            self.head_fed = self.head_fed + len(data) if (
                reading and messages == self.messages) else 0
            if self.head_fed > self.limits.max_head:
                self.fail(431)

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.messages += 1
        self.in_message = self.reading_head = True
        self.url = b""
        self.headers = []
        self.head_fed = self.head_size = self.body_size = 0
        self.request_began()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.limits.max_url:
            raise _Reject(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        if self.head_size > self.limits.max_head or len(self.headers) >= self.limits.max_headers:
            raise _Reject(431)
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.reading_head = False
        parser = self.parser
        keep_alive = parser.should_keep_alive()
        if parser.should_upgrade():
            if any(n == b"upgrade" and b"websocket" in v.lower() for n, v in self.headers):
                raise _Reject(400)
            keep_alive = False  # the rest of the stream is not HTTP/1.1 any more
        self.request = (self.scope(), keep_alive, 0)

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)  # the edge has no use for request bodies
        if self.body_size > self.limits.max_body:
            raise _Reject(413)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.request_read(self.request)

    def scope(self) -> Scope:
        target = split_target(self.url)
        if target is None:
            raise _Reject(400)
        raw_path, query, path = target
        return {
            "type": "http", "asgi": ASGI, "http_version": self.parser.get_http_version(),
            "method": self.parser.get_method().decode("ascii"), "scheme": "http",
            "path": unquote(path) if "%" in path else path, "raw_path": raw_path,
            "query_string": query, "root_path": "", "headers": self.headers,
            "client": self.client, "server": self.sockname,
        }
