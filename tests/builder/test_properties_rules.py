"""Properties of a site's rule files (issue 17): ``_redirects``, ``_headers`` and
``buildspace.json`` read, written back and read again give the same rules; and any text,
garbage included, is either read or refused with a ``SiteConfigError`` that names the
first offending line (``_redirects line N``), the entry, or JSON's own line and column,
never another exception.

    .venv/bin/pytest tests/builder/test_properties_rules.py
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from builder.site_config import parse_config, render_config
from builder.site_rules import (
    SiteConfigError,
    netlify_headers,
    netlify_redirects,
    render_headers,
    render_redirects,
)

SOURCES = ["/", "/a", "/a/:x", "/:x/:y.html", "/old/*", "/app/(.*)", "/docs/:rest*", "/a.b",
           "/:_g1/(.*)", "/%20", "/caf\u00e9", "/x/:x/(.*)/(.*)"]
DESTINATIONS = ["/b", "/b/:x", "/new/:splat", "/app.html", "/$1", "/$2", "/q?a=1",
                "https://example.com/:x", "http://e.x:8080/", "/c/:rest", "/d/:y"]
STATUSES = ["", "301", "302", "303", "307", "308", "200", "404", "410", "451"]
GARBAGE = ["999", "\u00b2", "\u0663\u0660\u0661", "abc", "301!!", "!", "Country=us", "a=b",
           "#", "#c", "\t", "\x0b", "\u2028", "\x85", ":", "(.*)", ":x:x", "/:x/:x", "*"]
HEADER_NAMES = ["X-A", "x-a", "Cache-Control", "X-Frame-Options", "Link", "#X", "X A",
                "Content-Length", "ETag", "", "X\u00e9"]
VALUES = ["1", "DENY", "a, b", "", "max-age=60", " spaced ", "\u00e9", "a\x7fb", "x" * 2100]
WS = st.sampled_from([" ", "  ", "\t", " \t "])


PAIRS = [("/", "/b"), ("/a", "/b"), ("/a/:x", "/b/:x"), ("/old/*", "/new/:splat"),
         ("/app/(.*)", "/app.html"), ("/app/(.*)", "/$1"), ("/docs/:rest*", "/c/:rest"),
         ("/:x/:y.html", "/d/:y"), ("/x/:x/(.*)/(.*)", "/$2/:x"), ("/:_g1/(.*)", "/$1"),
         ("/caf\u00e9", "https://example.com/:x"), ("/a.b", "http://e.x:8080/"),
         ("/%20", "/app.html")]


def valid_redirect_line() -> st.SearchStrategy[str]:
    def line(pair: tuple[str, str], status: str, force: bool, gaps: list[str],
             comment: str) -> str:
        source, destination = pair
        if not destination.startswith("/"):
            status = "302"
        status = status + ("!" if force and status else "")
        tokens = [source, destination, *([status] if status else [])]
        return gaps[0] + "".join(t + g for t, g in zip(tokens, gaps[1:], strict=False)) + \
            comment
    return st.builds(line, st.sampled_from(PAIRS), st.sampled_from(STATUSES), st.booleans(),
                     st.lists(WS | st.just(""), min_size=4, max_size=4).map(
                         lambda g: [g[0], *(x or " " for x in g[1:])]),
                     st.sampled_from(["", "# note", "#"]))


def any_line(pieces: list[str]) -> st.SearchStrategy[str]:
    """A line of arbitrary text, or of known pieces and garbage with blanks between."""
    return st.one_of(
        st.text(max_size=40).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
        st.lists(st.sampled_from(pieces + GARBAGE) | st.text(max_size=8), max_size=5).map(
            " ".join))


def first_bad_line(parse: Callable[[str], object], text: str, prefix: str) -> None:
    """``parse(text)`` either succeeds or names line N, the first line that makes it fail:
    the lines before N parse, the lines up to N do not."""
    try:
        parse(text)
    except SiteConfigError as exc:
        found = re.match(rf"{prefix} line (\d+): ", str(exc))
        assert found, str(exc)
        lines, number = text.splitlines(), int(found[1])
        assert 1 <= number <= len(lines)
        parse("\n".join(lines[:number - 1]))
        with pytest.raises(SiteConfigError):
            parse("\n".join(lines[:number]))


@settings(max_examples=100, deadline=None)
@given(st.lists(valid_redirect_line(), max_size=6).map("\n".join))
def test_redirects_read_written_and_read_again_are_the_same_rules(text: str) -> None:
    """parse(_redirects) -> render -> parse gives the same rules, for any text of
    well-formed lines (blanks, tabs, comments and ``!`` included)."""
    try:
        rules = netlify_redirects(text)
    except SiteConfigError:  # e.g. a destination naming what its source does not define
        reject()
    assert netlify_redirects(render_redirects(rules)) == rules


@settings(max_examples=150, deadline=None)
@given(st.lists(valid_redirect_line() | any_line(SOURCES + DESTINATIONS + STATUSES),
                max_size=6).map("\n".join))
@example("/a /b \u00b2")
@example("/:_g1/(.*) /b")
def test_malformed_redirects_name_their_first_bad_line(text: str) -> None:
    """Any ``_redirects`` text is read, or refused naming ``_redirects line N`` where N is
    the first line that makes it fail; never another exception."""
    first_bad_line(netlify_redirects, text, "_redirects")


def valid_headers_block() -> st.SearchStrategy[str]:
    good_names, good_values = HEADER_NAMES[:5], VALUES[:5] + ["x" * 2100]
    pair = st.builds(lambda ws, n, v, ws2: f"{ws}{n}:{ws2}{v}", WS, st.sampled_from(good_names),
                     st.sampled_from(good_values), WS | st.just(""))
    return st.builds(lambda s, pairs, blank: "\n".join([s, *pairs]) + blank,
                     st.sampled_from(SOURCES), st.lists(pair, max_size=4),
                     st.sampled_from(["", "\n", "\n  # comment"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(valid_headers_block(), max_size=4).map("\n".join))
@example("/a\n  X: " + "v" * 3000 + "\n  X: " + "v" * 3000)
def test_headers_read_written_and_read_again_are_the_same_rules(text: str) -> None:
    """parse(_headers) -> render -> parse gives the same rules (repeated names joined
    with ``, ``, as read), for any text of well-formed blocks."""
    try:
        rules = netlify_headers(text)
    except SiteConfigError:  # e.g. repeated values joined past the 4096 characters
        reject()
    assert netlify_headers(render_headers(rules)) == rules


def header_line() -> st.SearchStrategy[str]:
    return st.builds(lambda ws, n, sep, v: f"{ws}{n}{sep}{v}", WS | st.just(""),
                     st.sampled_from(HEADER_NAMES) | st.text(max_size=6),
                     st.sampled_from([": ", ":", " ", ""]), st.sampled_from(VALUES))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SOURCES) | header_line() | any_line(SOURCES + HEADER_NAMES),
                max_size=8).map("\n".join))
@example("/a\n  X: 1\n/:_g1/(.*)\n  X: 2\n/b\n  Content-Length: 1")
@example("/(.*)/:_g1\n  Y: 1")
def test_malformed_headers_name_their_first_bad_line(text: str) -> None:
    """Any ``_headers`` text is read, or refused naming ``_headers line N`` where N is the
    first line that makes it fail (a bad path fails at its own line, not at the end of
    its block); never another exception."""
    first_bad_line(netlify_headers, text, "_headers")


def json_rule(extra: dict[str, st.SearchStrategy[Any]], *, local: bool = False
              ) -> st.SearchStrategy[dict[str, Any]]:
    pairs = [p for p in PAIRS if p[1].startswith("/") or not local]
    return st.builds(lambda pair, more: {"source": pair[0], "destination": pair[1], **more},
                     st.sampled_from(pairs), st.fixed_dictionaries({}, optional=extra))


JSON_CONFIG = st.fixed_dictionaries({}, optional={
    "cleanUrls": st.booleans(), "spa": st.booleans(),
    "trailingSlash": st.none() | st.booleans(),
    "redirects": st.lists(json_rule({"permanent": st.booleans(),
                                     "statusCode": st.sampled_from([301, 302, 303, 307, 308])}),
                          max_size=3),
    "rewrites": st.lists(json_rule({}, local=True), max_size=3),
    "headers": st.lists(st.fixed_dictionaries({
        "source": st.sampled_from(SOURCES),
        "headers": st.lists(st.fixed_dictionaries({"key": st.sampled_from(HEADER_NAMES[:5]),
                                                   "value": st.sampled_from(VALUES[:5])}),
                            max_size=3)}), max_size=3),
})


@settings(max_examples=100, deadline=None)
@given(JSON_CONFIG, st.sampled_from([None, 0, 2]))
def test_config_read_written_and_read_again_is_the_same(config: dict[str, Any],
                                                        indent: int | None) -> None:
    """parse(buildspace.json) -> render -> parse gives the same settings and rules."""
    try:
        parsed = parse_config(json.dumps(config, indent=indent))
    except SiteConfigError:  # a destination naming what its source does not define
        reject()
    assert parse_config(render_config(parsed)) == parsed


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
                    st.text(max_size=6) | st.sampled_from(SOURCES + DESTINATIONS + HEADER_NAMES),
                    lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.sampled_from(["source", "destination", "permanent",
                                                     "statusCode", "headers", "key", "value",
                                                     "redirects", "x"]), inner, max_size=4),
                    max_leaves=12)
ENTRY = re.compile(r"buildspace\.json: (redirects|rewrites|headers)\[(\d+)\]")


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.dictionaries(st.sampled_from(["cleanUrls", "trailingSlash", "spa", "redirects",
                                     "rewrites", "headers"]), JSON).map(json.dumps),
    JSON.map(json.dumps),
    st.text(max_size=60)))
@example("[" * 100_000)
@example('{"redirects": [{"source": "/a", "destination": "/b"},\n  {"source": "a"}]}')
@example('{\n  "spa": true,\n  "headers": [}')
def test_malformed_config_names_the_entry_or_the_line(text: str) -> None:
    """Any ``buildspace.json`` text is read, or refused with a message that starts with
    the file's name: invalid JSON with JSON's ``line N column M`` of the error; a bad
    entry with its place (``redirects[1]``), that entry alone being refused and the ones
    before it read; never another exception."""
    try:
        parse_config(text)
    except SiteConfigError as exc:
        message = str(exc)
        assert message.startswith("buildspace.json")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as syntax:
            assert f"line {syntax.lineno} column {syntax.colno}" in message
            return
        except RecursionError:
            return
        entry = ENTRY.match(message)
        if entry is not None:
            key, index = entry[1], int(entry[2])
            parse_config(json.dumps({key: data[key][:index]}))
            try:
                parse_config(json.dumps({key: [data[key][index]]}))
            except SiteConfigError as alone:
                assert f"{key}[0]" in str(alone)
            else:
                raise AssertionError(f"{key}[{index}] alone is read") from None
