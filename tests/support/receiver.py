"""A webhook receiver on 127.0.0.1 for tests: records every POST or PUT (headers and raw body)
and answers each with the next status of ``statuses`` (then 200).

    with Receiver(statuses=[500, 500]) as hooks:
        ...  # point a webhook at hooks.url
        got = hooks.wait(3)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.waiting import eventually


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.received.append(Received(headers, body, status))
            return status

    def wait(self, count: int, timeout: float = 60) -> list[Received]:
        """The first ``count`` requests, once they arrived."""
        def arrived() -> bool:
            with self._lock:
                return len(self.received) >= count
        try:
            eventually(arrived, timeout, what=f"{count} webhook requests")
        except AssertionError:
            raise AssertionError(f"{len(self.received)} of {count} webhook requests arrived"
                                 ) from None
        with self._lock:
            return self.received[:count]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.take({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST  # noqa: N815 - a presigned store URL, in the blob-upload tests

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
