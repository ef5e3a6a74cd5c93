"""Redirect, rewrite and header rules as a site states them: Netlify's ``_redirects``
and ``_headers`` files, and the checks every rule passes wherever it came from (its
pattern, destination, status and header names). Malformed input names the file, the line
or entry, and what is wrong."""

from __future__ import annotations

import re

from schemas.artifacts import REDIRECT_STATUSES, HeaderRule, Rule
from schemas.path_patterns import PatternError, check_destination, compile_pattern

RULE_STATUSES = (200, *REDIRECT_STATUSES, 404, 410, 451)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
RESERVED_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding",
                              "connection", "content-range", "etag", "vary", "date",
                              "keep-alive", "upgrade", "trailer", "x-buildspace-deployment"})

class SiteConfigError(Exception):
    """The site's configuration is invalid; the message is what the user sees."""


# -- Netlify files -------------------------------------------------------------------------

def netlify_redirects(text: str) -> list[Rule]:
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
        if not tokens:
            continue
        where = f"_redirects line {number}"
        if len(tokens) < 2:
            raise SiteConfigError(f"{where}: expected `from to [status]`")
        source, destination, rest = tokens[0], tokens[1], tokens[2:]
        if "=" in destination:
            raise SiteConfigError(f"{where}: query parameter matching is not supported")
        status, force = 301, False
        if rest:
            code = rest[0]
            force = code.endswith("!")
            code = code.rstrip("!")
            if code not in map(str, RULE_STATUSES):
                raise SiteConfigError(f"{where}: status {rest[0]!r} is not one of "
                                      f"{', '.join(map(str, RULE_STATUSES))}")
            status = int(code)
        if len(rest) > 1:
            raise SiteConfigError(f"{where}: conditions ({rest[1]}) are not supported")
        if status not in REDIRECT_STATUSES and not destination.startswith("/"):
            raise SiteConfigError(f"{where}: a {status} rule must point at a path of the "
                                  f"site (proxying to other hosts is not supported)")
        rules.append(rule(source, destination, status, force, where))
    return rules


def netlify_headers(text: str) -> list[HeaderRule]:
    rules: list[HeaderRule] = []
    source, start = None, 0
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if source is not None:
                rules.append(header_rule(source, headers, f"_headers line {start}"))
            source, headers, start = line.strip(), {}, number
            header_rule(source, {}, f"_headers line {number}")  # a bad path fails here
            continue
        if source is None:
            raise SiteConfigError(f"_headers line {number}: a header before any path")
        name, sep, value = line.strip().partition(":")
        if not sep:
            raise SiteConfigError(f"_headers line {number}: expected `Name: value`")
        name, value, before = name.strip(), value.strip(), headers.get(name.strip(), "")
        value = f"{before}, {value}" if before and value else before or value
        name, value = header(name, value, f"_headers line {number}")
        headers[name] = value
    if source is not None:
        rules.append(header_rule(source, headers, f"_headers line {start}"))
    return rules


def render_redirects(rules: list[Rule]) -> str:
    """The canonical ``_redirects`` text of ``rules`` (one ``from to status[!]`` a line);
    ``netlify_redirects`` reads it back as the same rules. ValueError for a rule the
    format cannot state (whitespace or ``#`` in a path, ``=`` in the destination)."""
    lines = []
    for r in rules:
        if any(c.isspace() or c == "#" for c in r.source + r.destination) or \
                "=" in r.destination:
            raise ValueError(f"{r.source} -> {r.destination} cannot be written to _redirects")
        lines.append(f"{r.source} {r.destination} {r.status}{'!' if r.force else ''}\n")
    return "".join(lines)


def render_headers(rules: list[HeaderRule]) -> str:
    """The canonical ``_headers`` text of ``rules``; ``netlify_headers`` reads it back as
    the same rules."""
    return "".join(f"{r.source}\n" + "".join(f"  {name}: {value}\n"
                                               for name, value in r.headers.items())
                   for r in rules)


# -- common ---------------------------------------------------------------------------------

def rule(source: str, destination: str, status: int, force: bool, where: str) -> Rule:
    try:
        pattern = compile_pattern(source)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: source {source!r} {exc}") from None
    try:
        check_destination(destination, pattern)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: destination {destination!r} {exc}") from None
    return Rule(source=source, destination=destination, status=status, force=force)


def header_rule(source: str, headers: dict[str, str], where: str) -> HeaderRule:
    try:
        compile_pattern(source)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: source {source!r} {exc}") from None
    return HeaderRule(source=source, headers=headers)


def header(name: str, value: str, where: str) -> tuple[str, str]:
    if not HEADER_NAME.fullmatch(name):
        raise SiteConfigError(f"{where}: {name!r} is not a valid header name")
    if name.lower() in RESERVED_HEADERS:
        raise SiteConfigError(f"{where}: the header {name} is set by the edge")
    if not (value.isascii() and value.isprintable()) or len(value) > 4096:
        raise SiteConfigError(f"{where}: the value of {name} must be printable ASCII "
                              f"(at most 4096 characters)")
    return name, value
