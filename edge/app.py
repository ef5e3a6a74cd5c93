"""The edge's request handling: Host header -> route -> deployment manifest -> file.

``respond(scope)`` takes an ASGI-shaped request (method, raw_path, query_string,
headers) and returns a whole ``Response``; the HTTP server (``edge.server``) writes it.
Answers from the response cache come first (``respond_now``, no task); the rest is
served by ``edge.request.Request``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from edge.analytics import RequestLog, RowKey, row_key
from edge.request import Request, _deployment, byte_range, choose_encoding, header
from edge.response_cache import Hit, ResponseCache, cache_key
from edge.responses import Response, page
from edge.routes import RouteTable, normalize_host
from edge.site import Site, Sites
from edge.store import ArtifactError, ArtifactStore
from infra.metrics import observe_edge_request
from infra.settings import Settings
from schemas.routes import Route

log = logging.getLogger(__name__)
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
METHODS = ("GET", "HEAD")
Headers = list[tuple[bytes, bytes]]


class EdgeApp:
    """Serves every routed hostname from its deployment's artifacts."""

    def __init__(self, table: RouteTable, store: ArtifactStore, settings: Settings) -> None:
        self.table = table
        self.store = store
        self.settings = settings
        self.sites = Sites()
        self.requests: RequestLog | None = None  # analytics, when set
        self.responses = ResponseCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        response = await self.respond(scope)
        await response.send(send, head=scope["method"] == "HEAD")

    def respond_now(self, scope: Scope) -> Hit | None:
        """The answer from the response cache, if it holds one for this request (the
        HTTP server asks here first, and calls ``respond`` when this says None); counted
        here, and by the hit's ``count()`` for each identical request it answers again."""
        if scope["method"] not in METHODS:
            return None
        host = header(scope, b"host") or ""
        route = self.table.lookup(host)
        key = None if route is None else cache_key(route, scope)
        response = None if key is None else self.responses.get(key)
        if route is None or response is None:
            return None
        version, table = self.table.version, self.table
        row = row_key(route.project_id, route.deployment_id, normalize_host(host),
                      scope.get("path") or "/", response.status)
        size = 0 if scope["method"] == "HEAD" else len(response.body)
        hit = Hit(response, functools.partial(self._count, row, size, response.status),
                  lambda: table.version == version)
        hit.count()
        return hit

    def _count(self, row: RowKey, size: int, status: int) -> None:
        """One more request a cached answer answered (its key and size made once)."""
        started = time.perf_counter()
        if self.requests is not None:
            self.requests.add(row, size, 0.0)
        observe_edge_request(status, time.perf_counter() - started)

    async def respond(self, scope: Scope) -> Response:
        """The response to one request, counted and timed (``infra.metrics``)."""
        started = time.perf_counter()
        try:
            response = await self._respond(scope)
        except Exception:
            observe_edge_request(500, time.perf_counter() - started)
            raise
        observe_edge_request(response.status, time.perf_counter() - started)
        return response

    async def _respond(self, scope: Scope) -> Response:
        if scope["method"] not in METHODS:
            return page(405, "Method Not Allowed", "Only GET and HEAD.", [(b"allow", b"GET, HEAD")])
        host = header(scope, b"host") or ""
        route = self.table.lookup(host)
        if route is None:
            return page(404, "Not Found", "No site is deployed at this address.")
        started = time.perf_counter()
        try:
            response = await Request(self.store, self.sites, scope, route).serve()
        except ArtifactError as exc:
            log.warning("edge: %s (host %s)", exc, route.hostname)
            response = page(502, "Bad Gateway", "This deployment's files are unavailable.",
                            _deployment(route))
        key = cache_key(route, scope)
        if key is not None:
            self.responses.put(key, response)
        self._record(route, host, scope, response, started)
        return response

    def _record(self, route: Route, host: str, scope: Scope, response: Response,
                started: float) -> None:
        """Request analytics, when on."""
        if self.requests is not None:
            self.requests.record(route.project_id, route.deployment_id, normalize_host(host),
                                 scope.get("path") or "/", response.status,
                                 0 if scope["method"] == "HEAD" else len(response.body),
                                 (time.perf_counter() - started) * 1000)


__all__ = ["EdgeApp", "Request", "Site", "byte_range", "choose_encoding", "header"]
