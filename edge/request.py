"""One request to a routed host: path -> the deployment's file, rule or page.

The order, as on Vercel and Netlify: forced rules (redirects of buildspace.json, ``!``
rules of _redirects), canonical URLs (trailing slash, clean URLs), the files, then the
other rules (rewrites, _redirects), the SPA fallback and the 404 page. Custom headers of
matching header rules go on every answer. Conditional and ranged requests (ETag,
Last-Modified, Range, If-Range) are answered here.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from edge.paths import BadPath, keys_for, site_path
from edge.responses import (
    REVALIDATE,
    Response,
    body_headers,
    cache_control,
    page,
    precondition,
)
from edge.site import Match, Sites
from edge.store import ArtifactError, ArtifactStore
from schemas.artifacts import REDIRECT_STATUSES, ManifestEntry
from schemas.routes import Route

Scope = dict[str, Any]
Headers = list[tuple[bytes, bytes]]


class Request:
    """One request to a routed host."""

    def __init__(self, store: ArtifactStore, sites: Sites, scope: Scope, route: Route) -> None:
        self.store, self.sites, self.scope, self.route = store, sites, scope, route
        self.head = scope["method"] == "HEAD"
        self.query: bytes = scope.get("query_string") or b""

    async def serve(self) -> Response:
        try:
            path = site_path(self.scope.get("raw_path") or self.scope["path"].encode())
        except BadPath as exc:
            return page(400, "Bad Request", str(exc), _deployment(self.route))
        manifest = await self.store.manifest(self.route.deployment_id)
        if manifest is None:
            raise ArtifactError(f"deployment {self.route.deployment_id} has no manifest")
        self.manifest, self.site = manifest, self.sites.get(manifest)
        if path is None:  # hidden or escaping: as if it did not exist
            return await self._not_found()
        response = await self._resolve(path)
        custom = self.site.headers(path)
        if custom:  # the site's own headers replace the edge's of the same name
            names = {name for name, _ in custom}
            response.headers = [h for h in response.headers if h[0] not in names] + custom
        return response

    async def _resolve(self, path: str) -> Response:
        site, config = self.site, self.site.config
        forced = site.forced(path)
        if forced is not None:
            return await self._apply(forced)
        canonical = self._canonical(path)
        if canonical is not None:
            return self._redirect(308, canonical)
        for key in keys_for(path, clean_urls=config.clean_urls is not False):
            entry = self.manifest.files.get(key)
            if entry is not None:
                return await self._file(key, entry)
        fallback = site.fallback(path)
        if fallback is not None:
            return await self._apply(fallback)
        if config.spa_fallback and "." not in path.rpartition("/")[2]:
            entry = self.manifest.files.get("index.html")
            if entry is not None:
                return await self._file("index.html", entry)
        return await self._not_found()

    def _canonical(self, path: str) -> str | None:
        """Where a non-canonical URL of an existing page redirects, if anywhere."""
        config, files = self.site.config, self.manifest.files
        if config.clean_urls is True and path.endswith(".html") and path[1:] in files:
            stem = path[: -len(".html")]
            if stem.endswith("/index") or stem == "/index":
                stem = stem[: -len("index")]
                return stem if config.trailing_slash is not False or stem == "/" else \
                    stem.rstrip("/")
            return stem + "/" if config.trailing_slash else stem
        if path == "/":
            return None
        if config.trailing_slash is False and path.endswith("/"):
            return path.rstrip("/") or "/"
        if config.trailing_slash and not path.endswith("/") and \
                "." not in path.rpartition("/")[2]:
            return path + "/"
        return None

    async def _apply(self, match: Match) -> Response:
        rule, destination = match.rule, match.destination
        if rule.status in REDIRECT_STATUSES:
            return self._redirect(rule.status, destination)
        path = site_path(destination.partition("?")[0].encode())
        if path is not None:
            for key in keys_for(path, clean_urls=self.site.config.clean_urls is not False):
                entry = self.manifest.files.get(key)
                if entry is not None:
                    return await self._file(key, entry, rule.status)
        return await self._not_found()

    def _redirect(self, status: int, location: str) -> Response:
        if self.query and "?" not in location:
            location = f"{location}?{self.query.decode('latin-1')}"
        target = location.encode("utf-8", errors="replace")
        if any(c in target for c in b"\r\n\0"):
            return page(400, "Bad Request", "Invalid redirect target.", _deployment(self.route))
        body = b"" if self.head else b"Redirecting to " + target + b"\n"
        return Response(status, [*_deployment(self.route), (b"location", target),
                                 (b"content-type", b"text/plain; charset=utf-8"),
                                 (b"content-length", str(len(b"Redirecting to " + target)
                                                         + 1).encode()),
                                 (b"cache-control", REVALIDATE)], body)

    async def _file(self, key: str, entry: ManifestEntry, status: int = 200) -> Response:
        cache = cache_control(key, entry.content_type) if status == 200 else REVALIDATE
        headers = _deployment(self.route)
        if entry.encodings:
            headers.append((b"vary", b"Accept-Encoding"))
        modified = self.manifest.published_at
        if modified is not None:
            headers.append((b"last-modified", http_date(modified).encode()))
        ranged = header(self.scope, b"range") if status == 200 else None
        encoding = None if ranged else choose_encoding(header(self.scope, b"accept-encoding"),
                                                       entry)
        variant = entry.encodings.get(encoding) if encoding else None  # type: ignore[call-overload]
        sha, size = (variant.sha256, variant.size) if variant else (entry.sha256, entry.size)
        etag = f'"{sha}"'
        headers.append((b"etag", etag.encode()))
        verdict = precondition(lambda name: header(self.scope, name), etag, modified) \
            if status == 200 else None
        if verdict == 412:
            return page(412, "Precondition Failed", "The file has changed.", headers)
        if verdict == 304:
            return Response(304, [*headers, (b"cache-control", cache)])
        if encoding:
            headers.append((b"content-encoding", encoding.encode()))
        if status == 200:
            headers.append((b"accept-ranges", b"bytes"))
        if ranged is not None and header(self.scope, b"if-range") in (None, etag):
            try:
                span = byte_range(ranged, entry.size)
            except Unsatisfiable:
                return Response(416, [*headers, (b"content-range",
                                                 f"bytes */{entry.size}".encode()),
                                      (b"content-length", b"0"),
                                      (b"cache-control", REVALIDATE)])
            if span is not None:
                return await self._partial(entry, span, headers, cache)
        body = b"" if self.head else await self.store.blob(sha)
        return Response(status, [*headers, *body_headers(entry.content_type, size, cache)],
                        body)

    async def _partial(self, entry: ManifestEntry, span: tuple[int, int], headers: Headers,
                       cache: bytes) -> Response:
        start, end = span
        body = b"" if self.head else (await self.store.blob(entry.sha256))[start:end + 1]
        return Response(206, [*headers, (b"content-range",
                                         f"bytes {start}-{end}/{entry.size}".encode()),
                              *body_headers(entry.content_type, end - start + 1, cache)], body)

    async def _not_found(self) -> Response:
        """The site's own 404.html with status 404, else the built-in page."""
        entry = self.manifest.files.get("404.html")
        if entry is None:
            return page(404, "Not Found", "This page does not exist.", _deployment(self.route))
        body = b"" if self.head else await self.store.blob(entry.sha256)
        headers = body_headers(entry.content_type, entry.size, REVALIDATE)
        return Response(404, [*_deployment(self.route), *headers], body)


def choose_encoding(accept: str | None, entry: ManifestEntry) -> str | None:
    """br, else gzip, when the file has that variant and the client accepts it."""
    if not accept or not entry.encodings:
        return None
    weights: dict[str, float] = {}
    for part in accept.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        weights[name.strip()] = q
    for encoding in ("br", "gzip"):
        if encoding in entry.encodings and weights.get(encoding, weights.get("*", 0.0)) > 0:
            return encoding
    return None


class Unsatisfiable(Exception):
    """No range of a valid Range header overlaps the file (answered with 416)."""


_RANGE = re.compile(r"([0-9]*)-([0-9]*)")


def byte_range(value: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte to answer a ``Range`` header with; None to ignore it (not
    ``bytes=``, malformed, or a suffix of an empty file: 200 with the whole file).
    Several ranges are answered with the first satisfiable one (RFC 9110 lets a server
    ignore the others). Raises ``Unsatisfiable`` when none is."""
    unit, _, spec = value.partition("=")
    specs = [s.strip(" \t") for s in spec.split(",")]
    found = [_RANGE.fullmatch(s) for s in specs if s]
    if unit.lower() != "bytes" or not found or not all(m and any(m.groups()) for m in found):
        return None
    spans = [(int(m[1]), int(m[2]) if m[2] else None) if m[1] else (None, int(m[2]))
             for m in found if m]
    if any(last is not None and first is not None and last < first for first, last in spans):
        return None
    for first, last in spans:
        if first is None and last and size:  # the last ``last`` bytes
            return max(size - last, 0), size - 1
        if first is not None and first < size:
            return first, size - 1 if last is None else min(last, size - 1)
    if size == 0 and any(first is None and last for first, last in spans):
        return None
    raise Unsatisfiable


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _deployment(route: Route) -> Headers:
    return [(b"x-buildspace-deployment", route.deployment_id.encode())]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


__all__ = ["Request", "Unsatisfiable", "byte_range", "choose_encoding", "header", "http_date"]
