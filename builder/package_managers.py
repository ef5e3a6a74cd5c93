"""Which package manager installs a project, how, and where it keeps its cache.

The ``packageManager`` field of package.json (``pnpm@9.1.0``) wins; otherwise the
lockfile decides; with neither it is npm (pnpm beside a ``pnpm-workspace.yaml``). Yarn
is "berry" (2+) when the field says so, when ``.yarnrc.yml`` exists, or when yarn.lock
has berry's ``__metadata`` header.
Installs prefer the cache (``--prefer-offline`` where the manager has it), and each
manager's cache points at the per-project cache mounted in the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.repo_files import exists, read_head

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# Lockfile -> package manager, in order of precedence.
LOCKFILES = (("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"),
             ("yarn.lock", "yarn"), ("pnpm-lock.yaml", "pnpm"), ("bun.lock", "bun"),
             ("bun.lockb", "bun"))
DECLARED_RE = re.compile(r"(npm|yarn|pnpm|bun)@v?(\d+)[\w.+-]*")
# (with a lockfile, without one); berry has no --prefer-offline: it always reads its
# cache first.
INSTALL = {
    "npm": ("npm ci --prefer-offline", "npm install --prefer-offline"),
    "yarn": ("yarn install --frozen-lockfile --prefer-offline", "yarn install --prefer-offline"),
    "yarn-berry": ("yarn install --immutable", "yarn install"),
    "pnpm": ("pnpm install --frozen-lockfile --prefer-offline", "pnpm install --prefer-offline"),
    "bun": ("bun install --frozen-lockfile", "bun install"),
}
CACHE_VARIABLES = {
    "npm": ("npm_config_cache",),
    "yarn": ("YARN_CACHE_FOLDER",),
    "yarn-berry": ("YARN_GLOBAL_FOLDER",),
    "pnpm": ("npm_config_store_dir", "pnpm_config_store_dir"),
    "bun": ("BUN_INSTALL_CACHE_DIR",),
}
SHOWN = {"npm": "npm", "yarn": "yarn classic", "yarn-berry": "yarn berry", "pnpm": "pnpm",
         "bun": "bun"}
# Every variable that points a package manager at its cache (names compared in upper
# case: npm reads NPM_CONFIG_CACHE as well as npm_config_cache).
RESERVED_CACHE_VARIABLES = frozenset(
    name.upper() for names in CACHE_VARIABLES.values() for name in names) | {
    "YARN_CACHE_FOLDER", "YARN_GLOBAL_FOLDER", "YARN_ENABLE_GLOBAL_CACHE", "COREPACK_HOME"}


@dataclass(frozen=True)
class PackageManager:
    """How a project with a package.json is installed."""

    kind: str  # a key of INSTALL: npm, yarn, yarn-berry, pnpm, bun
    lockfile: str | None = None
    declared: str | None = None  # the packageManager field, when there is one

    @property
    def tool(self) -> str:
        """The command: yarn classic and berry are both ``yarn``."""
        return self.kind.split("-")[0]

    @property
    def install(self) -> str:
        with_lock, without = INSTALL[self.kind]
        return with_lock if self.lockfile else without

    def run(self, script: str) -> str:
        return f"{self.tool} run {script}"

    def cache_env(self, path: str) -> dict[str, str]:
        """The variables that make the manager use ``path`` as its cache."""
        return {name: path for name in CACHE_VARIABLES[self.kind]}

    def describe(self) -> str:
        sources = [self.lockfile or "no lockfile"]
        if self.declared:
            sources.append(f"packageManager {self.declared}")
        return f"Package manager: {SHOWN[self.kind]} ({', '.join(sources)})"


def declared_manager(package: dict[str, Any]) -> tuple[str, int, str] | None:
    """(name, major version, the field) from ``packageManager``, if it names one."""
    field = package.get("packageManager")
    match = DECLARED_RE.fullmatch(field.strip()) if isinstance(field, str) else None
    return (match[1], int(match[2]), field.strip()[:100]) if match and field else None


def _is_berry(project: Path, declared: tuple[str, int, str] | None, lockfile: str | None
              ) -> bool:
    if declared is not None and declared[0] == "yarn":
        return declared[1] >= 2
    if exists(project, ".yarnrc.yml"):
        return True
    return lockfile == "yarn.lock" and "__metadata:" in read_head(project, lockfile)


def detect_package_manager(project: Path, package: dict[str, Any]) -> PackageManager:
    """The manager from the packageManager field, else the lockfile, else npm."""
    present = [(name, tool) for name, tool in LOCKFILES if exists(project, name)]
    declared = declared_manager(package)
    fallback = "pnpm" if exists(project, "pnpm-workspace.yaml") else "npm"
    tool = declared[0] if declared else (present[0][1] if present else fallback)
    lockfile = next((name for name, owner in present if owner == tool), None)
    kind = "yarn-berry" if tool == "yarn" and _is_berry(project, declared, lockfile) else tool
    return PackageManager(kind, lockfile, declared[2] if declared else None)
