"""A deployment's ``SiteConfig`` compiled for serving: rules and header rules as
regular expressions, made once per manifest and kept with it."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.artifacts import Manifest, Rule, SiteConfig
from schemas.path_patterns import Pattern, PatternError, compile_pattern, fill

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Match:
    rule: Rule
    destination: str  # with the source's values filled in


class Site:
    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self._forced: list[tuple[Pattern, Rule]] = []
        self._fallback: list[tuple[Pattern, Rule]] = []
        self._headers: list[tuple[Pattern, Headers]] = []
        for rule in config.rules:
            pattern = _compiled(rule.source)
            if pattern is not None:
                (self._forced if rule.force else self._fallback).append((pattern, rule))
        for header_rule in config.headers:
            pattern = _compiled(header_rule.source)
            if pattern is not None:
                self._headers.append((pattern, [
                    (name.lower().encode(), value.encode())
                    for name, value in header_rule.headers.items()]))

    def forced(self, path: str) -> Match | None:
        """The first rule that applies whether or not a file exists at ``path``."""
        return _first(self._forced, path)

    def fallback(self, path: str) -> Match | None:
        """The first rule that applies where no file answers."""
        return _first(self._fallback, path)

    def headers(self, path: str) -> Headers:
        """The custom headers of every header rule matching ``path``."""
        found: Headers = []
        for pattern, headers in self._headers:
            if pattern.match(path) is not None:
                found.extend(headers)
        return found


def _compiled(source: str) -> Pattern | None:
    try:
        return compile_pattern(source)
    except PatternError:  # the builder checked it; a hand-made manifest may not be
        return None


def _first(rules: list[tuple[Pattern, Rule]], path: str) -> Match | None:
    for pattern, rule in rules:
        values = pattern.match(path)
        if values is not None:
            return Match(rule, fill(rule.destination, values))
    return None


class Sites:
    """Compiled sites by deployment id, for the manifests the store currently holds."""

    def __init__(self, limit: int = 1024) -> None:
        self._sites: dict[str, tuple[Manifest, Site]] = {}
        self._limit = limit

    def get(self, manifest: Manifest) -> Site:
        cached = self._sites.get(manifest.deployment_id)
        if cached is not None and cached[0] is manifest:
            return cached[1]
        site = Site(manifest.site)
        if len(self._sites) >= self._limit:
            self._sites.pop(next(iter(self._sites)))
        self._sites[manifest.deployment_id] = (manifest, site)
        return site
