"""The edge's ASGI app: Host header -> route -> deployment manifest -> file.

A raw ASGI callable (no router) since every request takes the same short path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from edge.paths import BadPath, candidates
from edge.responses import REVALIDATE, Response, body_headers, cache_control, etag_matches, page
from edge.routes import RouteTable
from edge.store import ArtifactError, ArtifactStore
from infra.settings import Settings
from schemas.artifacts import Manifest, ManifestEntry
from schemas.routes import Route

log = logging.getLogger(__name__)
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
METHODS = ("GET", "HEAD")


class EdgeApp:
    """Serves every routed hostname from its deployment's artifacts."""

    def __init__(self, table: RouteTable, store: ArtifactStore, settings: Settings) -> None:
        self.table = table
        self.store = store
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        response = await self.respond(scope)
        await response.send(send, head=scope["method"] == "HEAD")

    async def respond(self, scope: Scope) -> Response:
        if scope["method"] not in METHODS:
            return page(405, "Method Not Allowed", "Only GET and HEAD.", [(b"allow", b"GET, HEAD")])
        route = self.table.lookup(_header(scope, b"host") or "")
        if route is None:
            return page(404, "Not Found", "No site is deployed at this address.")
        try:
            return await self._serve(scope, route)
        except ArtifactError as exc:
            log.warning("edge: %s (host %s)", exc, route.hostname)
            return page(502, "Bad Gateway", "This deployment's files are unavailable.",
                        _deployment(route))

    async def _serve(self, scope: Scope, route: Route) -> Response:
        try:
            keys = candidates(scope.get("raw_path") or scope["path"].encode())
        except BadPath as exc:
            return page(400, "Bad Request", str(exc), _deployment(route))
        manifest = await self.store.manifest(route.deployment_id)
        if manifest is None:
            raise ArtifactError(f"deployment {route.deployment_id} has no manifest")
        head = scope["method"] == "HEAD"
        for key in keys:
            entry = manifest.files.get(key)
            if entry is not None:
                return await self._file(scope, route, key, entry, head)
        return await self._not_found(route, manifest, head)

    async def _file(
        self, scope: Scope, route: Route, key: str, entry: ManifestEntry, head: bool
    ) -> Response:
        etag = f'"{entry.sha256}"'
        cache = cache_control(key, entry.content_type)
        headers = [*_deployment(route), (b"etag", etag.encode())]
        if_none_match = _header(scope, b"if-none-match")
        if if_none_match and etag_matches(if_none_match, etag):
            return Response(304, [*headers, (b"cache-control", cache)])
        body = b"" if head else await self.store.blob(entry.sha256)
        length = entry.size if head else len(body)
        return Response(200, [*headers, *body_headers(entry.content_type, length, cache)],
                        body)

    async def _not_found(self, route: Route, manifest: Manifest, head: bool) -> Response:
        """The site's own 404.html with status 404, else the built-in page."""
        entry = manifest.files.get("404.html")
        if entry is None:
            return page(404, "Not Found", "This page does not exist.", _deployment(route))
        body = b"" if head else await self.store.blob(entry.sha256)
        length = entry.size if head else len(body)
        headers = body_headers(entry.content_type, length, REVALIDATE)
        return Response(404, [*_deployment(route), *headers], body)


def _deployment(route: Route) -> list[tuple[bytes, bytes]]:
    return [(b"x-buildspace-deployment", route.deployment_id.encode())]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
