"""The edge's response cache: which requests share an answer, and its bound."""

from __future__ import annotations

from typing import Any

from edge.response_cache import Hit, Replay, Replays, ResponseCache, cache_key, one_head
from edge.responses import Response
from schemas.routes import Route

ROUTE = Route(hostname="site", project_id="p1", deployment_id="d1", number=1)


def scope(path: bytes = b"/", query: bytes = b"", **headers: str) -> dict[str, Any]:
    pairs = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"method": "GET", "raw_path": path, "query_string": query,
            "headers": [(b"host", b"x"), *pairs]}


def ok(body: bytes = b"hi", status: int = 200) -> Response:
    return Response(status, [(b"content-type", b"text/plain")], body)


def test_conditional_and_ranged_requests_are_answered_afresh() -> None:
    for name in ("if_none_match", "if_modified_since", "range", "if_range"):
        conditional = scope()
        conditional["headers"].append((name.replace("_", "-").encode(), b"x"))
        assert cache_key(ROUTE, conditional) is None


def test_the_key_follows_route_path_query_and_accepted_encodings() -> None:
    base = cache_key(ROUTE, scope())
    assert base == cache_key(ROUTE, scope())
    switched = ROUTE.model_copy(update={"deployment_id": "d2", "number": 2})
    others = [cache_key(switched, scope()), cache_key(ROUTE, scope(b"/a")),
              cache_key(ROUTE, scope(query=b"v=1")),
              cache_key(ROUTE, scope(accept_encoding="br")),
              cache_key(ROUTE, scope() | {"method": "HEAD"})]
    assert base not in others and len(set(others)) == 5


def test_only_200s_are_kept_and_the_least_recently_used_goes_first() -> None:
    cache = ResponseCache(entries=2)
    keys = [cache_key(ROUTE, scope(f"/{n}".encode())) for n in range(3)]
    assert all(k is not None for k in keys)
    a, b, c = keys
    assert a is not None and b is not None and c is not None
    cache.put(a, ok(b"404", status=404))
    assert cache.get(a) is None
    cache.put(a, ok(b"a"))
    cache.put(b, ok(b"b"))
    assert cache.get(a) is not None  # now b is the least recently used
    cache.put(c, ok(b"c"))
    assert cache.get(b) is None and cache.get(a) is not None and cache.get(c) is not None
    assert len(cache) == 2


def test_one_head_is_a_single_request_without_a_body() -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    assert one_head(head)
    assert not one_head(head + head)  # pipelined
    assert not one_head(head[:-2])  # not whole yet
    assert not one_head(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")


def test_replays_are_bounded_and_dropped_once_stale() -> None:
    valid = {"now": True}
    hit = Hit(ok(), lambda: None, lambda: valid["now"])
    replays = Replays(entries=2, max_head=64)
    replays.put(b"x" * 65, Replay(hit, scope(), True))  # too long to keep
    assert len(replays) == 0
    for name in (b"a", b"b", b"c"):
        replays.put(name, Replay(hit, scope(), True))
    assert len(replays) == 2 and replays.get(b"a") is None  # the oldest went
    assert replays.get(b"c") is not None
    valid["now"] = False  # a route changed
    assert replays.get(b"c") is None and len(replays) == 1
