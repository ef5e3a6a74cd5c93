"""Path patterns of redirects, rewrites and header rules, shared by the builder (which
checks them when it reads a site's configuration) and the edge (which matches them).

``:name`` matches one path segment (up to the next ``/`` or ``.``-free text), ``:name*``
and ``*`` (named ``splat``) match the rest of the path, ``(.*)`` is an unnamed group
(``$1`` … in the destination). Everything else is literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)(\*)?|\*|\(\.\*\)")
DESTINATION_REF = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)|\$([1-9])")
MAX_PATTERN = 1024


class PatternError(ValueError):
    """The pattern is malformed; the message says how."""


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    names: frozenset[str]
    groups: int  # unnamed (.*) groups

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values = {k[2:]: v for k, v in found.groupdict().items() if k.startswith("n_")}
        for n in range(1, self.groups + 1):
            values[f"${n}"] = found.group(f"g{n}")
        return values


def compile_pattern(source: str) -> Pattern:
    if not source.startswith("/"):
        raise PatternError("must start with /")
    if len(source) > MAX_PATTERN:
        raise PatternError(f"longer than {MAX_PATTERN} characters")
    parts, names, groups, end = [], set(), 0, 0
    for token in TOKEN.finditer(source):
        parts.append(re.escape(source[end:token.start()]))
        end = token.end()
        text = token.group(0)
        if text == "(.*)":
            groups += 1
            parts.append(f"(?P<g{groups}>.*)")  # names are n_...: a source may use any
            continue
        name, rest = ("splat", True) if text == "*" else (token.group(1), bool(token.group(2)))
        if name in names:
            raise PatternError(f"names :{name} twice")
        names.add(name)
        parts.append(f"(?P<n_{name}>.*)" if rest else f"(?P<n_{name}>[^/]+)")
    parts.append(re.escape(source[end:]))
    return Pattern(re.compile("".join(parts), re.DOTALL), frozenset(names), groups)


def check_destination(destination: str, pattern: Pattern) -> None:
    """A destination is a site path or an http(s) URL using only the source's names."""
    if not destination.startswith(("/", "https://", "http://")):
        raise PatternError("must start with / or http(s)://")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in destination):
        raise PatternError("must not contain spaces or control characters")
    url_start = destination.find("://") + 3 if "://" in destination else 0
    for ref in DESTINATION_REF.finditer(destination, url_start):
        name, group = ref.group(1), ref.group(2)
        if name is not None and name not in pattern.names:
            raise PatternError(f"uses :{name}, which the source does not define")
        if group is not None and int(group) > pattern.groups:
            raise PatternError(f"uses ${group}, which the source does not define")


def fill(destination: str, values: dict[str, str]) -> str:
    """``destination`` with the matched values of the source substituted."""
    url_start = destination.find("://") + 3 if "://" in destination else 0

    def value(ref: re.Match[str]) -> str:
        key = ref.group(1) if ref.group(1) is not None else f"${ref.group(2)}"
        return values.get(key, ref.group(0))

    return destination[:url_start] + DESTINATION_REF.sub(value, destination[url_start:])
