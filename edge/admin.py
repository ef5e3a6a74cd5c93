"""The edge's own endpoints, ``/healthz`` and ``/metrics``, on ``edge_admin_port``.

Every edge process binds that port with SO_REUSEPORT, as it does the sites' port, so a
scrape reaches one of them; with ``PROMETHEUS_MULTIPROC_DIR`` set (``infra.metrics``)
that one answers for all of them. Served by the edge's HTTP server, apart from the sites.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from edge.http_server import HttpServer, bind_shared
from edge.responses import Response
from infra.metrics import exposition, flush_tallies, health, health_status
from infra.settings import Settings

Scope = dict[str, Any]


class EdgeAdmin:
    """``await start()`` serves the endpoints; ``ready()`` says the route table is loaded
    (and still followed); ``hosts()`` how many hostnames it holds."""

    def __init__(self, settings: Settings, ready: Callable[[], bool],
                 hosts: Callable[[], int]) -> None:
        self.settings, self.ready, self.hosts = settings, ready, hosts
        self.port: int | None = None
        self._http: HttpServer | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = bind_shared(self.settings.edge_host, self.settings.edge_admin_port)
        self.port = sock.getsockname()[1]
        self._http = HttpServer(self.respond)
        try:
            await self._http.start(sock)
        except BaseException:
            sock.close()
            raise
        self._flusher = asyncio.create_task(_flush_every(1.0), name="edge-metrics")

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._http is not None:
            await self._http.stop(grace=1)
        flush_tallies()

    async def respond(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return _answer(405, b"text/plain; charset=utf-8", b"Only GET and HEAD.\n")
        if scope["path"] == "/healthz":
            ready = self.ready()
            answer = health(ready, routes="loaded" if ready else "loading", hosts=self.hosts())
            return _answer(health_status(answer), b"application/json", orjson.dumps(answer))
        if scope["path"] == "/metrics":
            return _answer(200, CONTENT_TYPE_LATEST.encode(), exposition())
        return _answer(404, b"text/plain; charset=utf-8", b"Not found: /healthz, /metrics.\n")


async def _flush_every(seconds: float) -> None:
    """Counts into the shared files, for a scrape another edge process answers."""
    while True:
        await asyncio.sleep(seconds)
        flush_tallies()


def _answer(status: int, content_type: bytes, body: bytes) -> Response:
    return Response(status, [(b"content-type", content_type),
                             (b"content-length", str(len(body)).encode()),
                             (b"cache-control", b"no-store")], body)
