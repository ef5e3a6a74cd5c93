"""Bytes on the wire for the edge's HTTP server: the response head (status line and
headers, with those the app leaves to the server), the server's own error pages, and
socket addresses for the request scope."""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

import httptools

from edge.responses import Response, page

Scope = dict[str, Any]  # the ASGI-like request scope the edge's handlers get

STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


def head_for(response: Response, date: bytes, keep_alive: bool, version: str
             ) -> bytes | None:
    """``response_head``, remembered on the response while date and connection match."""
    key = (date, keep_alive, version)
    if response.written is not None and response.written[0] == key:
        return response.written[1]
    head = response_head(response, date, keep_alive, version)
    if head is not None:
        response.written = (key, head)
    return head


def response_head(response: Response, date: bytes, keep_alive: bool, version: str) -> bytes | None:
    """The status line and headers, with those the app leaves to the server; None if a
    header value would split the head."""
    status = response.status
    parts = [STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status]
    length = has_date = False
    for name, value in response.headers:
        if name == b"content-length":
            length = True
        elif name == b"date":
            has_date = True
        parts.append(name + b": " + value + b"\r\n")
    if not length and status >= 200 and status not in (204, 304):
        parts.append(b"content-length: %d\r\n" % len(response.body))
    if not has_date:
        parts.append(date)
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif version == "1.0":
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    head = b"".join(parts)
    if head.count(b"\n") != len(parts) or head.count(b"\r") != len(parts):
        return None
    return head


@functools.cache
def error_response(status: int) -> Response:
    phrase = HTTPStatus(status).phrase
    messages = {400: "The request is malformed.", 413: "The request body is too large.",
                414: "The URL is too long.", 431: "The request headers are too large.",
                500: "The edge failed to answer this request."}
    return page(status, phrase, messages.get(status, phrase))


def address(value: Any) -> tuple[str, int] | None:
    return (str(value[0]), int(value[1])) if isinstance(value, tuple) else None


def split_target(url: bytes) -> tuple[bytes, bytes, str] | None:
    """(raw path, query, path as text) of a request target; None when it is malformed
    (not a URL, or a path that is not ASCII)."""
    if url[:1] == b"/" and b"#" not in url:
        raw_path, _, query = url.partition(b"?")
    else:  # absolute-form, or a fragment to drop
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            return None
        raw_path, query = parsed.path or b"/", parsed.query or b""
    try:
        return raw_path, query, raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
