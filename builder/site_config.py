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
from pathlib import Path
from typing import Any

from builder.collect import OutputFile
from builder.frameworks import PRESETS
from builder.repo_files import RepoFileError, read_bytes
from builder.site_rules import (
    SiteConfigError,
    header,
    header_rule,
    netlify_headers,
    netlify_redirects,
    rule,
)
from schemas.artifacts import REDIRECT_STATUSES, HeaderRule, Rule, SiteConfig

CONFIG_FILE = "buildspace.json"
NETLIFY_FILES = ("_redirects", "_headers")
SPA_FRAMEWORKS = frozenset(f.slug for f in PRESETS if f.spa)
MAX_CONFIG = 1 << 20
MAX_RULES = 2048
TOP_KEYS = frozenset({"cleanUrls", "trailingSlash", "spa", "redirects", "rewrites", "headers"})


def read_site_config(project: Path, output: Path, files: list[OutputFile],
                     framework: str | None) -> SiteConfig:
    """The ``SiteConfig`` of a build whose project root is ``project`` and output
    ``output``; ``files`` is the collected output (``_redirects``/``_headers``
    included)."""
    config = _json_config(project)
    rules = [*config.get("redirects", [])]
    by_path = {f.path: f for f in files}
    rules += netlify_redirects(_text(by_path.get("_redirects"), "_redirects"))
    rules += config.get("rewrites", [])
    headers = config.get("headers", []) + netlify_headers(
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
    return {} if raw is None else parse_config(raw)


def parse_config(raw: bytes | str) -> dict[str, Any]:
    """The settings and rules of a ``buildspace.json`` text (camelCase keys, ``Rule`` and
    ``HeaderRule`` lists)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SiteConfigError(f"{CONFIG_FILE} is not valid JSON: {exc}") from None
    except RecursionError:
        raise SiteConfigError(f"{CONFIG_FILE} is nested too deeply") from None
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


def render_config(config: dict[str, Any]) -> str:
    """The canonical ``buildspace.json`` text of what ``parse_config`` returned."""
    data: dict[str, Any] = {k: config[k] for k in ("cleanUrls", "trailingSlash", "spa")
                            if k in config}
    data["redirects"] = [{"source": r.source, "destination": r.destination,
                          "statusCode": r.status} for r in config.get("redirects", [])]
    data["rewrites"] = [{"source": r.source, "destination": r.destination}
                        for r in config.get("rewrites", [])]
    data["headers"] = [{"source": h.source, "headers": [{"key": k, "value": v} for k, v in
                                                        h.headers.items()]}
                       for h in config.get("headers", [])]
    return json.dumps(data, indent=2) + "\n"


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
    return rule(entry["source"], entry["destination"], status, True,
                 f"{CONFIG_FILE}: {where}")


def _json_rewrite(entry: Any, where: str) -> Rule:
    entry = _object(entry, where, {"source", "destination"}, {"source", "destination"})
    if not entry["destination"].startswith("/"):
        raise SiteConfigError(f"{CONFIG_FILE}: {where}.destination must be a path of the "
                              f"site (proxying to other hosts is not supported)")
    return rule(entry["source"], entry["destination"], 200, False, f"{CONFIG_FILE}: {where}")


def _json_headers(entry: Any, where: str) -> HeaderRule:
    entry = _object(entry, where, {"source", "headers"}, {"source"})
    pairs = entry.get("headers")
    if not isinstance(pairs, list):
        raise SiteConfigError(f"{CONFIG_FILE}: {where}.headers must be a list of "
                              f"{{key, value}}")
    headers = {}
    for n, pair in enumerate(pairs):
        pair = _object(pair, f"{where}.headers[{n}]", {"key", "value"}, {"key", "value"})
        name, value = header(pair["key"], pair["value"], f"{CONFIG_FILE}: {where}")
        headers[name] = value
    return header_rule(entry["source"], headers, f"{CONFIG_FILE}: {where}")
