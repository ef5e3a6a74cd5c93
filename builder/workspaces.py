"""Monorepos: when a project's root directory is a package of a pnpm, yarn or npm
workspace, the install runs at the workspace's root (where the lockfile is) and the build
runs for that one package, through Turborepo or Nx when the workspace uses them.

Workspace files are untrusted input: read bounded and without following symlinks, and
a package name only enters a command line when it is a plain npm name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from builder.repo_files import RepoFileError, exists, read_package_json, read_text

PACKAGE_NAME_RE = re.compile(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*", re.I)
PNPM_ENTRY_RE = re.compile(r"""^\s*-\s*['"]?([^'"#\n]+?)['"]?\s*(?:#.*)?$""")
MAX_GLOBS = 200
EXEC = {"npm": "npx --no-install", "pnpm": "pnpm exec", "yarn": "yarn", "yarn-berry": "yarn",
        "bun": "bunx"}


@dataclass(frozen=True)
class Workspace:
    """The workspace a package belongs to: its root (relative to the checkout) and the
    task runner it builds with, if any."""

    root: str
    runner: str | None  # "turbo", "nx" or None

    def build(self, manager_kind: str, package: dict[str, Any]) -> str | None:
        """The runner's command that builds ``package`` (and what it depends on)."""
        name = package.get("name")
        if self.runner is None or not isinstance(name, str) or len(name) > 214 or \
                not PACKAGE_NAME_RE.fullmatch(name):
            return None
        run = EXEC[manager_kind]
        if self.runner == "turbo":
            return f"{run} turbo run build --filter={name}"
        return f"{run} nx run {name}:build"

    def describe(self, root: str) -> str:
        where = f"{self.root}/" if self.root else "the repository's top"
        via = {"turbo": ", built through Turborepo", "nx": ", built through Nx"}
        return f"Workspace: {root}/ is a package of the workspace at {where}: installing " \
               f"there{via.get(self.runner or '', '')}"


def _pnpm_globs(top: Path) -> list[str] | None:
    text = read_text(top, "pnpm-workspace.yaml")
    if text is None:
        return None
    globs, listing = [], False
    for line in text.splitlines():
        if re.match(r"^packages\s*:", line):
            listing = True
        elif listing and (entry := PNPM_ENTRY_RE.match(line)):
            globs.append(entry[1].strip())
        elif listing and line.strip() and not line.startswith((" ", "\t", "-")):
            listing = False
    return globs[:MAX_GLOBS]


def _package_globs(top: Path) -> list[str] | None:
    try:
        package = read_package_json(top)
    except RepoFileError:
        return None
    declared = (package or {}).get("workspaces")
    if isinstance(declared, dict):
        declared = declared.get("packages")
    if not isinstance(declared, list):
        return None
    return [g for g in declared if isinstance(g, str)][:MAX_GLOBS]


def _glob_re(glob: str) -> re.Pattern[str]:
    glob = glob.strip().removeprefix("./").rstrip("/")
    parts = re.split(r"(\*\*|\*|\?)", glob)
    wild = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(p, re.escape(p)) for p in parts))


def includes(globs: list[str], relative: str) -> bool:
    """Whether the workspace globs (``!`` excludes) take in the package at ``relative``."""
    taken = False
    for glob in globs:
        negated = glob.startswith("!")
        if _glob_re(glob.lstrip("!")).fullmatch(relative):
            taken = not negated
    return taken


def _runner(top: Path) -> str | None:
    if exists(top, "turbo.json"):
        return "turbo"
    return "nx" if exists(top, "nx.json") else None


def find_workspace(checkout: Path, root: str) -> Workspace | None:
    """The nearest directory above ``root`` whose workspace takes ``root`` in."""
    parts = PurePosixPath(root).parts if root else ()
    for depth in range(len(parts) - 1, -1, -1):
        top = checkout.joinpath(*parts[:depth])
        if top.is_symlink():
            continue
        globs = _pnpm_globs(top)
        globs = _package_globs(top) if globs is None else globs
        if globs and includes(globs, "/".join(parts[depth:])):
            return Workspace("/".join(parts[:depth]), _runner(top))
    return None

