"""How a site is served, read at build time into the manifest's ``SiteConfig``.

Sources, in this order of precedence for rules:
- ``buildspace.json`` in the project's root directory (vercel.json-like)::

    {"cleanUrls": true, "trailingSlash": false, "spa": true,
     "redirects": [{"source": "/old/:slug", "destination": "/new/:slug", "permanent": true}],
     "rewrites": [{"source": "/app/*", "destination": "/app.html"}],
     "headers": [{"source": "/assets/*", "headers": [{"key": "X-Frame-Options",
                                                      "value": "DENY"}]}]}

  redirects apply before the files (a file never shadows them), rewrites only where no
  file answers;
- Netlify's ``_redirects`` and ``_headers`` at the top of the output directory (they are
  not served). A ``_redirects`` rule applies where no file answers unless its status
  ends with ``!``; status 200 is a rewrite, 404/410 a custom status.

Anything malformed fails the build with the file, the entry and what is wrong. The SPA
fallback is on by default for single-page frameworks (Vite, Create React App, Angular,
React Router in SPA mode) whose output has no 404.html and no catch-all rule.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from builder.collect import OutputFile
from builder.frameworks import PRESETS
from builder.repo_files import RepoFileError, read_bytes
from schemas.artifacts import REDIRECT_STATUSES, HeaderRule, Rule, SiteConfig
from schemas.path_patterns import PatternError, check_destination, compile_pattern

CONFIG_FILE = "buildspace.json"
NETLIFY_FILES = ("_redirects", "_headers")
SPA_FRAMEWORKS = frozenset(f.slug for f in PRESETS if f.spa)
MAX_CONFIG = 1 << 20
MAX_RULES = 2048
RULE_STATUSES = (200, *REDIRECT_STATUSES, 404, 410, 451)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
RESERVED_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding",
                              "connection", "content-range", "etag", "vary", "date",
                              "keep-alive", "upgrade", "trailer", "x-buildspace-deployment"})
TOP_KEYS = frozenset({"cleanUrls", "trailingSlash", "spa", "redirects", "rewrites", "headers"})


class SiteConfigError(Exception):
    """The site's configuration is invalid; the message is what the user sees."""


def read_site_config(project: Path, output: Path, files: list[OutputFile],
                     framework: str | None) -> SiteConfig:
    """The ``SiteConfig`` of a build whose project root is ``project`` and output
    ``output``; ``files`` is the collected output (``_redirects``/``_headers``
    included)."""
    config = _json_config(project)
    rules = [*config.get("redirects", [])]
    by_path = {f.path: f for f in files}
    rules += _netlify_redirects(_text(by_path.get("_redirects"), "_redirects"))
    rules += config.get("rewrites", [])
    headers = config.get("headers", []) + _netlify_headers(
        _text(by_path.get("_headers"), "_headers"))
    if len(rules) > MAX_RULES or len(headers) > MAX_RULES:
        raise SiteConfigError(f"more than {MAX_RULES} redirect or header rules")
    spa = config.get("spa")
    if spa is None:
        catch_all = any(r.source in ("/*", "/(.*)", "/:path*") for r in rules)
        spa = (framework in SPA_FRAMEWORKS and "404.html" not in by_path and not catch_all)
    return SiteConfig(clean_urls=config.get("cleanUrls"),
                      trailing_slash=config.get("trailingSlash"), spa_fallback=spa,
                      rules=rules, headers=headers)


def served_files(files: list[OutputFile], project: Path, output: Path) -> list[OutputFile]:
    """The output without the configuration files (read, never served)."""
    hidden = set(NETLIFY_FILES) | ({CONFIG_FILE} if output == project else set())
    return [f for f in files if f.path not in hidden]


def _text(file: OutputFile | None, name: str) -> str:
    if file is None:
        return ""
    if file.size > MAX_CONFIG:
        raise SiteConfigError(f"{name} is larger than 1 MiB")
    return file.source.read_bytes().decode("utf-8", errors="replace")


# -- buildspace.json ----------------------------------------------------------------------

def _json_config(project: Path) -> dict[str, Any]:
    try:
        raw = read_bytes(project, CONFIG_FILE, MAX_CONFIG)
    except RepoFileError as exc:
        raise SiteConfigError(str(exc)) from None
    if raw is None:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SiteConfigError(f"{CONFIG_FILE} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SiteConfigError(f"{CONFIG_FILE} must be a JSON object")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise SiteConfigError(f"{CONFIG_FILE}: unknown key {unknown[0]!r} (known: "
                              f"{', '.join(sorted(TOP_KEYS))})")
    out: dict[str, Any] = {}
    for key in ("cleanUrls", "spa"):
        if key in data:
            out[key] = _bool(data[key], key)
    if "trailingSlash" in data:
        out["trailingSlash"] = None if data["trailingSlash"] is None else _bool(
            data["trailingSlash"], "trailingSlash")
    out["redirects"] = [_json_redirect(e, f"redirects[{n}]")
                        for n, e in enumerate(_list(data, "redirects"))]
    out["rewrites"] = [_json_rewrite(e, f"rewrites[{n}]")
                       for n, e in enumerate(_list(data, "rewrites"))]
    out["headers"] = [_json_headers(e, f"headers[{n}]")
                      for n, e in enumerate(_list(data, "headers"))]
    return out


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SiteConfigError(f"{CONFIG_FILE}: {where} must be true or false")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise SiteConfigError(f"{CONFIG_FILE}: {key} must be a list")
    return value


def _object(entry: Any, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise SiteConfigError(f"{CONFIG_FILE}: {where} must be an object")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SiteConfigError(f"{CONFIG_FILE}: {where}: unknown key {unknown[0]!r}")
    for key in sorted(required):
        if not isinstance(entry.get(key), str):
            raise SiteConfigError(f"{CONFIG_FILE}: {where}.{key} must be a string")
    return entry


def _json_redirect(entry: Any, where: str) -> Rule:
    entry = _object(entry, where, {"source", "destination", "permanent", "statusCode"},
                    {"source", "destination"})
    status = 308 if entry.get("permanent", True) else 307
    if "permanent" in entry:
        _bool(entry["permanent"], f"{where}.permanent")
    if "statusCode" in entry:
        status = entry["statusCode"]
        if status not in REDIRECT_STATUSES:
            raise SiteConfigError(f"{CONFIG_FILE}: {where}.statusCode must be one of "
                                  f"{', '.join(map(str, REDIRECT_STATUSES))}")
    return _rule(entry["source"], entry["destination"], status, True,
                 f"{CONFIG_FILE}: {where}")


def _json_rewrite(entry: Any, where: str) -> Rule:
    entry = _object(entry, where, {"source", "destination"}, {"source", "destination"})
    if not entry["destination"].startswith("/"):
        raise SiteConfigError(f"{CONFIG_FILE}: {where}.destination must be a path of the "
                              f"site (proxying to other hosts is not supported)")
    return _rule(entry["source"], entry["destination"], 200, False, f"{CONFIG_FILE}: {where}")


def _json_headers(entry: Any, where: str) -> HeaderRule:
    entry = _object(entry, where, {"source", "headers"}, {"source"})
    pairs = entry.get("headers")
    if not isinstance(pairs, list):
        raise SiteConfigError(f"{CONFIG_FILE}: {where}.headers must be a list of "
                              f"{{key, value}}")
    headers = {}
    for n, pair in enumerate(pairs):
        pair = _object(pair, f"{where}.headers[{n}]", {"key", "value"}, {"key", "value"})
        name, value = _header(pair["key"], pair["value"], f"{CONFIG_FILE}: {where}")
        headers[name] = value
    return _header_rule(entry["source"], headers, f"{CONFIG_FILE}: {where}")


# -- Netlify files -------------------------------------------------------------------------

def _netlify_redirects(text: str) -> list[Rule]:
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
            if not code.isdigit() or int(code) not in RULE_STATUSES:
                raise SiteConfigError(f"{where}: status {rest[0]!r} is not one of "
                                      f"{', '.join(map(str, RULE_STATUSES))}")
            status = int(code)
        if len(rest) > 1:
            raise SiteConfigError(f"{where}: conditions ({rest[1]}) are not supported")
        if status not in REDIRECT_STATUSES and not destination.startswith("/"):
            raise SiteConfigError(f"{where}: a {status} rule must point at a path of the "
                                  f"site (proxying to other hosts is not supported)")
        rules.append(_rule(source, destination, status, force, where))
    return rules


def _netlify_headers(text: str) -> list[HeaderRule]:
    rules: list[HeaderRule] = []
    source, start = None, 0
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if source is not None:
                rules.append(_header_rule(source, headers, f"_headers line {start}"))
            source, headers, start = line.strip(), {}, number
            continue
        if source is None:
            raise SiteConfigError(f"_headers line {number}: a header before any path")
        name, sep, value = line.strip().partition(":")
        if not sep:
            raise SiteConfigError(f"_headers line {number}: expected `Name: value`")
        name, value = _header(name.strip(), value.strip(), f"_headers line {number}")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if source is not None:
        rules.append(_header_rule(source, headers, f"_headers line {start}"))
    return rules


# -- common ---------------------------------------------------------------------------------

def _rule(source: str, destination: str, status: int, force: bool, where: str) -> Rule:
    try:
        pattern = compile_pattern(source)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: source {source!r} {exc}") from None
    try:
        check_destination(destination, pattern)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: destination {destination!r} {exc}") from None
    return Rule(source=source, destination=destination, status=status, force=force)


def _header_rule(source: str, headers: dict[str, str], where: str) -> HeaderRule:
    try:
        compile_pattern(source)
    except PatternError as exc:
        raise SiteConfigError(f"{where}: source {source!r} {exc}") from None
    return HeaderRule(source=source, headers=headers)


def _header(name: str, value: str, where: str) -> tuple[str, str]:
    if not HEADER_NAME.fullmatch(name):
        raise SiteConfigError(f"{where}: {name!r} is not a valid header name")
    if name.lower() in RESERVED_HEADERS:
        raise SiteConfigError(f"{where}: the header {name} is set by the edge")
    if not (value.isascii() and value.isprintable()) or len(value) > 4096:
        raise SiteConfigError(f"{where}: the value of {name} must be printable ASCII "
                              f"(at most 4096 characters)")
    return name, value
