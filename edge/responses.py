"""HTTP responses of the edge and the policies behind their headers."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]

REVALIDATE = b"public, max-age=0, must-revalidate"
IMMUTABLE = b"public, max-age=31536000, immutable"
NO_STORE = b"no-store"
HTML = "text/html; charset=utf-8"
_HEX_HASH = re.compile(r"(?=[0-9a-f]*[0-9])[0-9a-f]{8,}")
_ALNUM_HASH = re.compile(r"(?=[0-9A-Za-z]*[0-9])(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{8,}")


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    # The last head written for it (``edge.http_wire.head_for``): a cached response is
    # written many times a second with the same head.
    written: tuple[tuple[bytes, bool, str], bytes] | None = field(
        default=None, repr=False, compare=False)

    async def send(self, send: Send, *, head: bool = False) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


def page(status: int, title: str, message: str, headers: Any = ()) -> Response:
    """A small built-in HTML page (unknown host, missing file, errors)."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{status}: {html.escape(title)}</title></head>"
        '<body style="font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem">'
        f"<h1>{status}: {html.escape(title)}</h1><p>{html.escape(message)}</p>"
        "</body></html>"
    ).encode()
    return Response(status, [*headers, *body_headers(HTML, len(body), NO_STORE)], body)


def _header_value(value: str, fallback: str) -> bytes:
    """``value`` as a header value, ``fallback`` if it could split or break the header."""
    if value.isascii() and value.isprintable():
        return value.encode()
    return fallback.encode()


def body_headers(content_type: str, length: int, cache: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", _header_value(content_type, "application/octet-stream")),
        (b"content-length", str(length).encode()),
        (b"cache-control", cache),
        (b"x-content-type-options", b"nosniff"),
    ]


def cache_control(key: str, content_type: str) -> bytes:
    """Immutable for hashed assets; HTML and everything else is revalidated."""
    if content_type.startswith("text/html"):
        return REVALIDATE
    if key.startswith("assets/") or has_content_hash(key):
        return IMMUTABLE
    return REVALIDATE


def has_content_hash(key: str) -> bool:
    """Whether the file name carries a bundler's content hash (``app.3f2a1b9c.js``)."""
    parts = re.split(r"[.\-_]", key.rpartition("/")[2])[:-1]
    if any(_HEX_HASH.fullmatch(part) for part in parts):
        return True
    return any(_ALNUM_HASH.fullmatch(part) for part in parts[1:])


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against ``etag``."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False
