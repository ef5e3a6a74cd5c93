"""The npm semver ranges a Node.js version can be written in, as projects write them in
practice: exact and partial versions (``20``, ``20.11``, ``v20.11.1``, ``20.x``), ``^``,
``~``, comparators (``>=18 <21``), hyphen ranges (``18 - 20``), ``||``, and nvm's aliases
(``node``, ``lts``, ``lts/*``, ``lts/iron``).

One grammar for both readers: the API checks a project's ``node_version`` setting with
it, and the builder (``builder.node_versions``, ``builder.provision``) matches what a
project asks for against the releases in the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Version = tuple[int, int, int]
Test = Callable[[Version], bool]
LTS_CODENAMES = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12,
                 "fermium": 14, "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22,
                 "krypton": 24}
PARTIAL_RE = re.compile(r"v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+][\w.+-]*)?")
COMPARATOR_RE = re.compile(r"(\^|~>?|>=|<=|>|<|=)?\s*(v?[\dxX*][\w.+*-]*)")
MAX_REQUEST = 200


class RangeError(ValueError):
    """The requested version is not something this module can read."""


def parse_partial(text: str) -> tuple[int | None, int | None, int | None]:
    """``20.x`` -> (20, None, None); a missing or wildcard part is None."""
    match = PARTIAL_RE.fullmatch(text.strip())
    if not match:
        raise RangeError(f"not a version: {text!r}")
    parts = [None if p is None or p in "xX*" else int(p) for p in match.groups()]
    return parts[0], parts[1], parts[2]


def _floor(parts: tuple[int | None, ...]) -> Version:
    major, minor, patch = (p or 0 for p in parts)
    return major, minor, patch


def _partial_bounds(parts: tuple[int | None, int | None, int | None]
                    ) -> tuple[Version, Version | None]:
    """[low, high) covered by a partial version; high None means unbounded."""
    major, minor, patch = parts
    if major is None:
        return (0, 0, 0), None
    if minor is None:
        return (major, 0, 0), (major + 1, 0, 0)
    if patch is None:
        return (major, minor, 0), (major, minor + 1, 0)
    return (major, minor, patch), (major, minor, patch + 1)


def _caret_high(parts: tuple[int | None, int | None, int | None]) -> Version | None:
    major, minor, patch = parts
    if major is None:
        return None
    if major > 0 or minor is None:
        return (major + 1, 0, 0)
    if minor > 0 or patch is None:
        return (0, minor + 1, 0)
    return (0, 0, (patch or 0) + 1)


def _between(low: Version, high: Version | None) -> Test:
    return lambda v: v >= low and (high is None or v < high)


def _comparator(op: str, text: str) -> Test:
    parts = parse_partial(text)
    low, high = _partial_bounds(parts)
    if op in ("", "="):
        return _between(low, high)
    if op == "^":
        return _between(_floor(parts), _caret_high(parts))
    if op.startswith("~"):
        return _between(low, _partial_bounds((parts[0], parts[1], None))[1])
    if op == ">=":
        return lambda v: v >= low
    if op == ">":
        return (lambda v: v >= high) if high is not None else (lambda v: False)
    if op == "<":
        return lambda v: v < low
    return (lambda v: v < high) if high is not None else (lambda v: True)  # "<="


def _conjunction(text: str) -> Test:
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text.strip())
    if hyphen:
        low, high = _comparator(">=", hyphen[1]), _comparator("<=", hyphen[2])
        return lambda v: low(v) and high(v)
    tests, position, text = [], 0, text.strip()
    for match in COMPARATOR_RE.finditer(text):
        if text[position:match.start()].strip():
            raise RangeError(f"cannot read {text!r}")
        tests.append(_comparator(match[1] or "", match[2]))
        position = match.end()
    if text[position:].strip() or not tests:
        raise RangeError(f"cannot read {text!r}")
    return lambda v: all(t(v) for t in tests)


def _alias(text: str) -> Test | None:
    name = text.strip().lower()
    if name in ("node", "latest", "stable", "current", "lts/*", "lts", "*", ""):
        return lambda v: True
    if name.startswith("lts/"):
        major = LTS_CODENAMES.get(name[4:])
        if major is None:
            raise RangeError(f"unknown LTS name {text!r}")
        return lambda v: v[0] == major
    return None


def parse_range(text: str) -> Test:
    """A predicate on versions for an npm-style range or an nvm alias."""
    if len(text) > MAX_REQUEST:
        raise RangeError("the requested version is too long")
    alias = _alias(text)
    if alias is not None:
        return alias
    alternatives = [_conjunction(part) for part in text.split("||")]
    return lambda v: any(t(v) for t in alternatives)
