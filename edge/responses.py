"""HTTP responses of the edge and the policies behind their headers."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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


def etag_matches(header: str, etag: str, *, strong: bool = False) -> bool:
    """RFC 9110 weak (If-None-Match) or strong (If-Match) comparison of a list of entity
    tags against ``etag``."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or (tag.removeprefix("W/") if not strong else tag) == etag:
            return True
    return False


def precondition(header: Callable[[bytes], str | None], etag: str,
                 modified: datetime | None) -> int | None:
    """412 or 304 if the preconditions of a GET or HEAD say so (RFC 9110 13.2.2: If-Match,
    else If-Unmodified-Since; then If-None-Match, else If-Modified-Since), else None."""
    modified = modified.replace(microsecond=0) if modified else None  # as Last-Modified
    if_match, unmodified = header(b"if-match"), _date(header(b"if-unmodified-since"))
    if if_match is not None and not etag_matches(if_match, etag, strong=True):
        return 412
    if if_match is None and unmodified and modified and modified > unmodified:
        return 412
    if_none_match, since = header(b"if-none-match"), _date(header(b"if-modified-since"))
    if if_none_match is not None:
        return 304 if etag_matches(if_none_match, etag) else None
    return 304 if since and modified and modified <= since else None


def _date(value: str | None) -> datetime | None:
    """An HTTP-date, None if absent or invalid (the header is then ignored)."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment
