"""Request path resolution and the header policies (pure functions)."""

from __future__ import annotations

import pytest

from edge.paths import BadPath, candidates
from edge.responses import IMMUTABLE, REVALIDATE, cache_control, etag_matches, has_content_hash


@pytest.mark.parametrize("raw, keys", [
    (b"/", ["index.html"]),
    (b"/about/", ["about/index.html"]),
    (b"/about", ["about", "about/index.html"]),
    (b"/assets/app.js", ["assets/app.js", "assets/app.js/index.html"]),
    (b"/caf%C3%A9/", ["caf\u00e9/index.html"]),
    (b"/a%20b.txt", ["a b.txt", "a b.txt/index.html"]),
    (b"/.well-known/security.txt",
     [".well-known/security.txt", ".well-known/security.txt/index.html"]),
])
def test_candidates(raw: bytes, keys: list[str]) -> None:
    assert candidates(raw) == keys


@pytest.mark.parametrize("raw", [
    b"/..", b"/../", b"/a/../b", b"/%2e%2e/", b"/%2E%2e", b"/..%2fetc", b"/.", b"/./a",
    b"/a//b", b"//", b"/a\\b", b"/%5c", b"/.env", b"/a/.git/config", b"/.%2e/",
])
def test_candidates_refuse_escaping_and_hidden_paths(raw: bytes) -> None:
    assert candidates(raw) == []


@pytest.mark.parametrize("raw", [b"/%00", b"/a%0d%0ab", b"/%ff", b"/" + b"a" * 4096, b"*", b""])
def test_malformed_paths_raise(raw: bytes) -> None:
    with pytest.raises(BadPath):
        candidates(raw)


@pytest.mark.parametrize("key", [
    "app.3f2a1b9c.js", "static/js/main.8e4d2f1a.chunk.js", "chunk-5PUZ7IM4.js",
    "_next/static/chunks/pages/_app-1234abcd5678.js", "3f2a1b9c0d.js",
])
def test_hashed_names(key: str) -> None:
    assert has_content_hash(key)


@pytest.mark.parametrize("key", [
    "app.js", "html5shiv.js", "jquery-3.7.1.min.js", "favicon-32x32.png", "logo192.png",
    "face0101", "roboto-v30-latin-regular.woff2", "deadbeef.png", "es2015-polyfills.js",
])
def test_unhashed_names(key: str) -> None:
    assert not has_content_hash(key)


def test_cache_control() -> None:
    assert cache_control("assets/app-3f2a1b.js", "text/javascript") == IMMUTABLE
    assert cache_control("app.3f2a1b9c.css", "text/css") == IMMUTABLE
    assert cache_control("style.css", "text/css") == REVALIDATE
    assert cache_control("assets/page.html", "text/html; charset=utf-8") == REVALIDATE
    assert cache_control("index.html", "text/html") == REVALIDATE


@pytest.mark.parametrize("header, matches", [
    ('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True),
    ('"x"', False), ("abc", False), ("", False),
])
def test_etag_matches(header: str, matches: bool) -> None:
    assert etag_matches(header, '"abc"') is matches
