"""Whole responses kept for the requests that will get the same answer again.

A deployment is immutable, so the answer to a GET or HEAD is a function of the route
(which deployment a hostname serves), the method, the path and query, and the
Accept-Encoding header, unless the request is conditional or ranged (``If-Match``,
``If-None-Match``, ``If-Modified-Since``, ``If-Unmodified-Since``, ``Range``,
``If-Range``): those are answered afresh, and so is
anything but a 200. A route switch makes a new key, so it takes effect at once. The
bodies are the artifact store's cached blobs, shared, not copied.

``Replays`` goes one step further for the request a busy site gets over and over: a
request head whose bytes were seen before, answered from this cache, gets that answer
again without being parsed, until any route changes (``RouteTable.version``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.responses import Response
from infra.metrics import EDGE_CACHE_TALLY
from schemas.routes import Route

MAX_ENTRIES = 4096
PERSONAL = (b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since",
            b"range", b"if-range")

Key = tuple[str, str, str, bytes, bytes, bytes]


def cache_key(route: Route, scope: dict[str, Any]) -> Key | None:
    """The key of a request whose answer can be shared, or None."""
    encoding = b""
    for name, value in scope["headers"]:
        if name in PERSONAL:
            return None
        if name == b"accept-encoding":
            encoding = value
    # The method too: a HEAD answer is made without its body.
    return (route.hostname, route.deployment_id, scope.get("method", "GET"),
            scope.get("raw_path") or b"",
            scope.get("query_string") or b"", encoding)


class ResponseCache:
    """At most ``entries`` responses, the least recently used dropped first."""

    def __init__(self, entries: int = MAX_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[Key, Response] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Key) -> Response | None:
        found = self._items.get(key)
        if found is None:
            EDGE_CACHE_TALLY.add("response", "miss")
            return None
        self._items.move_to_end(key)
        EDGE_CACHE_TALLY.add("response", "hit")
        return found

    def put(self, key: Key, response: Response) -> None:
        if response.status != 200:
            return
        self._items[key] = response
        if len(self._items) > self.entries:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Hit:
    """A cached answer: ``count()`` records one more request it answered (metrics,
    analytics); ``valid()`` says whether it still is the answer (no route changed)."""

    response: Response
    count: Callable[[], None]
    valid: Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Replay:
    """A hit remembered with the request it answered: method, HTTP version, keep-alive."""

    hit: Hit
    scope: dict[str, Any]
    keep_alive: bool


class Replays:
    """Whole request heads (bytes as received, one request, no body) that a cached
    answer answered: the same bytes again get the same answer without being parsed.
    Bounded in entries and in the size of a head."""

    def __init__(self, entries: int = 1024, max_head: int = 2048) -> None:
        self.entries, self.max_head = entries, max_head
        self._items: dict[bytes, Replay] = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, data: bytes) -> Replay | None:
        replay = self._items.get(data)
        if replay is None:
            return None
        if not replay.hit.valid():
            del self._items[data]
            return None
        EDGE_CACHE_TALLY.add("response", "hit")
        return replay

    def put(self, data: bytes, replay: Replay) -> None:
        if len(data) > self.max_head:
            return
        if len(self._items) >= self.entries:
            self._items.pop(next(iter(self._items)))  # the oldest
        self._items[data] = replay


def one_head(data: bytes) -> bool:
    """Whether ``data`` is a request head and nothing else (no body, no second one)."""
    return data.endswith(b"\r\n\r\n") and data.count(b"\r\n\r\n") == 1
