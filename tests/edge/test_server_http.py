"""The edge's HTTP/1.1 server over real sockets, on asyncio's loop and on uvloop, with a
small app whose responses can be held back to make the ordering visible."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

import pytest
import uvloop

from edge.http_server import HttpServer, Limits, Scope
from edge.responses import Response
from tests.support.waiting import eventually

T = TypeVar("T")
QUICK = Limits(keepalive_timeout=1, request_timeout=1, max_url=1024, max_head=2048,
               max_headers=20)


class LoopThread:
    def __init__(self, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop = factory()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class App:
    """Echoes the request as JSON; ``/hold/NAME`` waits until ``release(NAME)``."""

    started: list[str] = field(default_factory=list)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    async def respond(self, scope: Scope) -> Response:
        self.started.append(scope["path"])
        if scope["path"].startswith("/hold/"):
            await self.gates.setdefault(scope["path"][6:], asyncio.Event()).wait()
        if scope["path"] == "/boom":
            raise RuntimeError("app bug")
        if scope["path"] == "/fixed":
            return Response(200, [], b"the same for GET and HEAD")
        if scope["path"] == "/split":
            return Response(200, [(b"x-note", b"a\r\nset-cookie: stolen=1")], b"")
        if scope["path"] == "/not-modified":
            return Response(304, [(b"etag", b'"x"')])
        body = json.dumps({
            "method": scope["method"], "path": scope["path"],
            "raw_path": scope["raw_path"].decode(), "query": scope["query_string"].decode(),
            "version": scope["http_version"],
            "headers": [[n.decode(), v.decode()] for n, v in scope["headers"]],
        }).encode()
        return Response(200, [(b"content-type", b"application/json")], body)


@dataclass
class Served:
    port: int
    app: App
    server: HttpServer
    thread: LoopThread

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def release(self, name: str) -> None:
        def set_gate() -> None:
            self.app.gates.setdefault(name, asyncio.Event()).set()
        self.thread.loop.call_soon_threadsafe(set_gate)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def thread(request: pytest.FixtureRequest) -> Iterator[LoopThread]:
    running = LoopThread(asyncio.new_event_loop if request.param == "asyncio"
                         else uvloop.new_event_loop)
    yield running
    running.close()


@pytest.fixture
def served(thread: LoopThread) -> Iterator[Served]:
    app = App()
    server = HttpServer(app.respond, QUICK)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread.run(server.start(sock))
    yield Served(sock.getsockname()[1], app, server, thread)
    thread.run(server.stop(grace=1))


def request(path: str = "/", method: str = "GET", version: str = "1.1",
            headers: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: site.localhost\r\n{headers}\r\n".encode()


def read(stream: BinaryIO, head: bool = False) -> Reply | None:
    """One response from ``stream``, None at end of stream."""
    line = stream.readline()
    if not line:
        return None
    version, status, _ = line.split(b" ", 2)
    assert version == b"HTTP/1.1", line
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        assert name.lower() not in headers, f"duplicate header {name}"
        headers[name.lower()] = value.strip()
    body = b"" if head else stream.read(int(headers.get("content-length", 0)))
    return Reply(int(status), headers, body)


def exchange(served: Served, *requests: bytes) -> tuple[list[Reply], bool]:
    """Send ``requests`` in one write; their responses, and whether the server closed
    the connection after them."""
    with served.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(b"".join(requests))
        replies = [read(stream, head=r.startswith(b"HEAD ")) for r in requests]
        assert None not in replies, replies
        return replies, read(stream) is None  # type: ignore[return-value]


CLOSE = "Connection: close\r\n"


def test_keep_alive_serves_several_requests_on_one_connection(served: Served) -> None:
    with served.connect() as sock, sock.makefile("rb") as stream:
        for path in ("/a", "/b", "/c"):
            sock.sendall(request(path))
            reply = read(stream)
            assert reply is not None and reply.status == 200
            assert reply.json()["path"] == path
            assert reply.headers["content-length"] == str(len(reply.body))
            assert reply.headers["date"].endswith(" GMT")
            assert "connection" not in reply.headers


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    with served.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request("/hold/first") + request("/second") + request("/third"))
        eventually(lambda: served.app.started == ["/hold/first"])
        served.release("first")
        paths = [read(stream).json()["path"] for _ in range(3)]  # type: ignore[union-attr]
    assert paths == ["/hold/first", "/second", "/third"]
    assert served.app.started == paths


def test_a_held_response_does_not_hold_other_connections(served: Served) -> None:
    with served.connect() as held:
        held.sendall(request("/hold/slow"))
        eventually(lambda: "/hold/slow" in served.app.started)
        replies, _ = exchange(served, request("/quick", headers=CLOSE))
        assert replies[0].json()["path"] == "/quick"
        served.release("slow")


def test_head_has_the_length_of_get_and_no_body(served: Served) -> None:
    (get, head, after), closed = exchange(
        served, request("/fixed"), request("/fixed", "HEAD"), request("/after", headers=CLOSE))
    assert head.status == 200
    assert head.headers["content-length"] == get.headers["content-length"] != "0"
    assert after.json()["path"] == "/after"  # the next bytes after HEAD's head were this
    assert closed


def test_connection_close_is_honoured(served: Served) -> None:
    with served.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request(headers=CLOSE) + request("/never"))
        reply, after = read(stream), read(stream)
    assert reply is not None and reply.headers["connection"] == "close"
    assert after is None
    assert served.app.started == ["/"]


def test_http_1_0_closes_unless_asked_to_keep_alive(served: Served) -> None:
    (reply,), closed = exchange(served, request(version="1.0"))
    assert reply.headers["connection"] == "close" and closed
    assert reply.json()["version"] == "1.0"
    (kept, last), closed = exchange(served, request(version="1.0",
                                                    headers="Connection: keep-alive\r\n"),
                                    request(version="1.0"))
    assert kept.headers["connection"] == "keep-alive"
    assert last.headers["connection"] == "close" and closed


def test_the_app_sees_an_asgi_like_scope(served: Served) -> None:
    (reply, absolute), _ = exchange(
        served, request("/caf%C3%A9/a%2Fb?q=1&r=%20", headers="X-Thing: Yes\r\n"),
        request("http://site.localhost/abs?x", headers=CLOSE))
    scope = reply.json()
    assert scope["method"] == "GET"
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == "/caf%C3%A9/a%2Fb"
    assert scope["query"] == "q=1&r=%20"
    assert scope["version"] == "1.1"
    assert ["x-thing", "Yes"] in scope["headers"]
    assert ["host", "site.localhost"] in scope["headers"]
    assert (absolute.json()["raw_path"], absolute.json()["query"]) == ("/abs", "x")


def test_length_is_added_only_where_a_body_may_be(served: Served) -> None:
    (reply,), _ = exchange(served, request("/not-modified", headers=CLOSE))
    assert reply.status == 304
    assert "content-length" not in reply.headers
    assert reply.headers["etag"] == '"x"'


def test_a_header_value_that_would_split_the_head_is_never_sent(served: Served) -> None:
    (reply,), _ = exchange(served, request("/split", headers=CLOSE))
    assert reply.status == 500
    assert "set-cookie" not in reply.headers


def test_an_app_error_is_a_500_and_the_connection_goes_on(served: Served) -> None:
    (boom, after), closed = exchange(served, request("/boom"), request("/ok", headers=CLOSE))
    assert boom.status == 500
    assert after.status == 200 and closed


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
])
def test_a_malformed_request_gets_400_and_the_connection_closes(
    served: Served, raw: bytes
) -> None:
    (reply,), closed = exchange(served, raw)
    assert reply.status == 400
    assert reply.headers["connection"] == "close" and closed
    assert served.app.started == []


def test_a_bad_request_after_good_pipelined_ones_is_answered_in_turn(served: Served) -> None:
    with served.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request("/hold/a") + b"NOPE\r\n\r\n")
        eventually(lambda: served.app.started == ["/hold/a"])
        served.release("a")
        replies = [read(stream), read(stream), read(stream)]
    assert [r.status if r else None for r in replies] == [200, 400, None]


@pytest.mark.parametrize(("raw", "status"), [
    (request("/" + "a" * 2000), 414),
    (request(headers="X-Big: " + "b" * 3000 + "\r\n"), 431),
    (request(headers="".join(f"X-{i}: {i}\r\n" for i in range(30))), 431),
    (request(headers="X-Huge: " + "h" * 200_000 + "\r\n"), 431),
    (b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000, 413),
])
def test_oversized_requests_are_refused(served: Served, raw: bytes, status: int) -> None:
    with served.connect() as sock, sock.makefile("rb") as stream:
        # Answered and closed before it took everything: the reply still counts.
        with contextlib.suppress(ConnectionError):
            sock.sendall(raw)
        reply = read(stream)
    assert reply is not None and reply.status == status
    assert reply.headers["connection"] == "close"
    assert served.app.started == []


def test_websocket_upgrades_are_refused(served: Served) -> None:
    (reply,), closed = exchange(served, request(
        headers="Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"))
    assert reply.status == 400 and closed


def test_other_upgrades_are_served_as_plain_requests_then_closed(served: Served) -> None:
    (reply,), closed = exchange(served, request(
        headers="Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"))
    assert reply.status == 200
    assert reply.headers["connection"] == "close" and closed


def test_idle_and_slow_clients_are_timed_out_without_blocking_others(served: Served) -> None:
    with served.connect() as idle, served.connect() as slow:
        idle.sendall(request("/first"))
        slow.sendall(b"GET / HTTP/1.1\r\nHo")
        for _ in range(5):
            (reply,), _ = exchange(served, request("/other", headers=CLOSE))
            assert reply.status == 200
        idle_stream = idle.makefile("rb")
        assert read(idle_stream) is not None
        assert read(idle_stream) is None  # closed after keepalive_timeout
        assert slow.recv(1) == b""  # closed after request_timeout, nothing sent


def test_stop_finishes_the_response_in_flight_and_closes_idle_connections(
    served: Served,
) -> None:
    with served.connect() as busy, served.connect() as idle, \
            busy.makefile("rb") as busy_stream, idle.makefile("rb") as idle_stream:
        idle.sendall(request("/before"))
        assert read(idle_stream) is not None
        busy.sendall(request("/hold/stop"))
        eventually(lambda: "/hold/stop" in served.app.started)
        stopped = asyncio.run_coroutine_threadsafe(served.server.stop(grace=10),
                                                   served.thread.loop)
        assert read(idle_stream) is None
        eventually(lambda: _refused(served.port))
        served.release("stop")
        reply = read(busy_stream)
        assert reply is not None and reply.status == 200
        assert reply.headers["connection"] == "close"
        assert read(busy_stream) is None
        stopped.result(5)


def test_stop_aborts_what_is_still_busy_after_the_grace_period(served: Served) -> None:
    with served.connect() as busy, busy.makefile("rb") as stream:
        busy.sendall(request("/hold/forever"))
        eventually(lambda: "/hold/forever" in served.app.started)
        served.thread.run(served.server.stop(grace=0.2))
        assert _read_or_reset(stream) == b""


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _read_or_reset(stream: BinaryIO) -> bytes:
    try:
        return stream.read()
    except ConnectionResetError:
        return b""
