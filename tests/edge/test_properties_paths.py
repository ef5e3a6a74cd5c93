"""Properties of request paths at the edge (issue 17): however a path is encoded, the edge
answers with a file of the deployment's manifest named by that path, or not at all; and
the files an upload may hold are exactly the ones the edge serves.

Requests go through ``edge.request.Request`` in-process (``tests.edge.in_memory``).

    .venv/bin/pytest tests/edge/test_properties_paths.py
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote_to_bytes

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.paths import BadPath, candidates
from schemas.artifacts import Manifest
from schemas.uploads import MAX_PATH, MAX_SEGMENT, check_upload_path
from tests.edge.in_memory import deployment, serve

# What a manifest may hold (a build's output is not filtered: dotfiles reach it) and what
# a hand-made one could: keys that look like escapes.
KEYS = [
    "index.html", "a/index.html", "a/b.txt", "secret", "a b/c.txt", "caf\u00e9.txt",
    ".well-known/security.txt", "%2e%2e/secret", "a\u2215..", "\uff0e\uff0e/secret",
    ".env", ".git/config", "a/.secret", "../secret", "a/../secret", "./secret", "/secret",
    "a\\..\\secret", "a//b.txt", "a/./b.txt", "\x00secret",
]
# Pieces of request paths: escapes, encoded and double-encoded dots, slashes and
# backslashes, overlong UTF-8, NUL, and Unicode lookalikes of / and . (U+2215 DIVISION
# SLASH, U+FF0F FULLWIDTH SOLIDUS, U+FF0E FULLWIDTH FULL STOP, U+2024 ONE DOT LEADER).
PIECES = [
    "", ".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2e.", "%252e%252e", "%c0%ae",
    "%C0%AE%C0%AE", "%e0%80%ae", "%c0%af", "%2f", "%2F", "%252f", "\\", "%5c", "%5C",
    "%00", "%0a", "\u2215", "%E2%88%95", "\uff0f", "%EF%BC%8F", "\uff0e\uff0e",
    "%EF%BC%8E%EF%BC%8E", "\u2024\u2024", "%ff", "%", "%zz", "~", ";", ".env", "%2eenv",
    ".git", "config", ".well-known", "security.txt", "index.html", "a", "b.txt", "secret",
    "a b", "a%20b", "c.txt", "caf\u00e9.txt", "caf%C3%A9.txt",
]


def site(keys: Iterable[str]) -> tuple[Manifest, dict[str, bytes]]:
    """A deployment whose file at each key holds ``file:<key>``."""
    return deployment({key: f"file:{key}".encode() for key in keys})


def encoded(text: str, modes: list[int]) -> bytes:
    """``text`` with each character as is (0), percent-encoded (1) or encoded twice (2)."""
    out = []
    for char, mode in zip(text, modes + [0] * len(text), strict=False):
        raw = char.encode()
        if mode == 0:
            out.append(raw)
        else:
            once = "".join(f"%{byte:02X}" for byte in raw)
            out.append((once if mode == 1 else once.replace("%", "%25")).encode())
    return b"".join(out)


@st.composite
def request_paths(draw: st.DrawFn) -> bytes:
    pieces = draw(st.lists(st.one_of(
        st.sampled_from(PIECES).map(str.encode),
        st.builds(encoded, st.text(st.sampled_from("./\\\x00a\u2215\uff0f\u00e9%"),
                                   max_size=8),
                  st.lists(st.integers(0, 2), max_size=8))), max_size=6))
    separators = draw(st.lists(st.sampled_from([b"/", b"/", b"%2f", b"\\", b"%5c", b"//"]),
                               min_size=len(pieces), max_size=len(pieces)))
    path = b"".join(sep + piece for sep, piece in zip(separators, pieces, strict=True))
    return path or b"/"


MANIFEST, BLOBS = site(KEYS)
BODIES = {f"file:{key}".encode(): key for key in KEYS}


@pytest.mark.asyncio
@settings(max_examples=200, deadline=None)
@given(request_paths())
@example(b"/a/%2e%2e/secret")
@example(b"/.env")
@example(b"/%2eenv")
@example(b"/a%5c..%5csecret")
@example(b"/%C0%AE%C0%AE/secret")
@example(b"/%2561/b.txt")
@example(b"/a/%2e/b.txt")
async def test_no_request_path_reaches_past_the_manifest(raw: bytes) -> None:
    """Any request path, however encoded, is answered 400, 404, or 200 with a file of the
    manifest that a site may serve (no dotfile, no ``.``/``..``/empty segment, no
    backslash or control character), named by the path decoded exactly once: ``/x`` or
    ``/x/`` serve ``x``, ``x.html`` or ``x/index.html``, nothing normalised."""
    response = await serve(MANIFEST, BLOBS, raw)
    assert response.status in (200, 400, 404)
    if response.status != 200:
        return
    key = BODIES[response.body]
    assert check_upload_path(key) is None
    path = unquote_to_bytes(raw).decode()
    base = path.removesuffix("/")
    assert "/" + key in {path, base + ".html", base + "/index.html"}


@settings(max_examples=150, deadline=None)
@given(request_paths())
def test_candidates_are_paths_a_site_may_hold(raw: bytes) -> None:
    """Every manifest key the resolver may look up for any request path is one an upload
    may hold (or longer than an upload may be): relative, no ``.``/``..``/empty segment,
    no dotfile but ``.well-known``, no backslash or control character."""
    try:
        keys = candidates(raw)
    except BadPath:
        return
    for key in keys:
        assert check_upload_path(key) is None or len(key.encode()) > MAX_PATH


SEGMENTS = st.one_of(
    st.sampled_from(["", ".", "..", ".env", ".well-known", "a", "index.html", "b\\c", "x\x00",
                     "\u2215", "\uff0f", "%2e%2e", "a?b#c", "caf\u00e9", "\u00e9" * 255,
                     "a" * 256]),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=300))


def upload_paths() -> st.SearchStrategy[str]:
    return st.builds(lambda lead, parts: lead + "/".join(parts), st.sampled_from(["", "/"]),
                     st.lists(SEGMENTS, min_size=1, max_size=6))


@pytest.mark.asyncio
@settings(max_examples=150, deadline=None)
@given(upload_paths(), st.sampled_from(["/", "", "all"]))
@example("\u00e9" * 255 + "/" + "\u00e9" * 255, "/")  # 1020 bytes: 3061 once encoded
@example("a b/.well-known", "/")
@example("b\\c", "/")
@example("a/../b", "")
async def test_accepted_upload_paths_are_exactly_the_servable_ones(path: str, safe: str) -> None:
    """An upload path that ``check_upload_path`` accepts, put into a manifest, is served
    by the edge when requested URL-encoded (slashes kept, encoded, or every byte
    encoded); one it refuses is never served, unless only for the upload's own size
    limits (1024 bytes, 255 characters a segment)."""
    manifest, blobs = site([path])
    if safe == "all":
        raw = b"/" + "".join(f"%{byte:02X}" for byte in path.encode()).encode()
    else:
        raw = b"/" + quote(path, safe=safe).encode()
    served = (await serve(manifest, blobs, raw)).status == 200
    if check_upload_path(path) is None:
        assert served
    elif served:
        assert len(path.encode()) > MAX_PATH or \
            any(len(segment) > MAX_SEGMENT for segment in path.split("/"))
