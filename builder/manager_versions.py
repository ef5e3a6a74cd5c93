"""Which version of its package manager a project wants, and why, in this order:

1. ``packageManager`` in package.json (``pnpm@9.15.0+sha512...``);
2. the version its lockfile implies (pnpm's ``lockfileVersion``, yarn berry's
   ``__metadata.version`` or ``yarnPath``, the lockfile format of npm and bun);
3. a stated default (``DEFAULTS``).

The answer is an npm range for the tool cache to resolve against the registry, and the
reason the build log shows. Lockfiles are read as untrusted input: only their first
kilobytes, and only matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from builder.package_managers import PackageManager
from builder.repo_files import RepoFileError, read_head, read_text

# pnpm lockfileVersion -> the pnpm major that writes it.
PNPM_LOCKFILES = {"5.3": "6", "5.4": "7", "6.0": "8", "6.1": "8", "7.0": "9", "9.0": "9"}
# yarn berry's __metadata version -> the yarn major that writes it.
BERRY_LOCKFILES = {"4": "2", "5": "3", "6": "3", "7": "3", "8": "4", "9": "4", "10": "4"}
# npm 10 and 11 read every lockfileVersion (1, 2, 3); the newest that supports the
# build's Node.js is taken.
NPM_RANGE = "^10 || ^11"
DEFAULTS = {"npm": NPM_RANGE, "pnpm": "9", "yarn": "1", "yarn-berry": "4", "bun": "1"}
PNPM_VERSION_RE = re.compile(r"""^lockfileVersion:\s*['"]?([\d.]+)['"]?""", re.M)
BERRY_VERSION_RE = re.compile(r"^__metadata:\s*\n\s+version:\s*(\d+)", re.M)
YARN_PATH_RE = re.compile(r"""^yarnPath:\s*['"]?[\w./-]*?yarn-(\d+\.\d+\.\d+)\.c?js""", re.M)
NPM_LOCK_RE = re.compile(r'"lockfileVersion"\s*:\s*(\d+)')
EXACT_RE = re.compile(r"v?(\d+\.\d+\.\d+)(?:[+].*)?")


def _head(project: Path, name: str) -> str:
    """The start of a lockfile or config; "" when it is no regular file (then nothing is
    implied, and the install will say what is wrong)."""
    try:
        return read_head(project, name) if name.endswith((".json", ".yaml", ".lock")) \
            else read_text(project, name) or ""
    except RepoFileError:
        return ""


@dataclass(frozen=True)
class ManagerRequest:
    """The package manager version a build needs: ``tool`` is a tool-cache name."""

    tool: str  # npm, pnpm, yarn, yarn-berry, bun
    wanted: str  # an npm range: "9.15.0", "8", "^10 || ^11"
    reason: str  # why, for the log: "packageManager pnpm@9.15.0"
    exact: bool = False  # a pinned version: the registry must have exactly it

    @property
    def shown(self) -> str:
        return {"yarn": "yarn classic", "yarn-berry": "yarn berry"}.get(self.tool, self.tool)


def _declared(manager: PackageManager) -> ManagerRequest | None:
    if manager.declared is None:
        return None
    version = manager.declared.split("@", 1)[1]
    exact = EXACT_RE.fullmatch(version)
    wanted = exact[1] if exact else version.split("+", 1)[0]
    return ManagerRequest(manager.kind, wanted, f"packageManager {manager.declared}",
                          exact=exact is not None)


def _pnpm(project: Path, lockfile: str) -> ManagerRequest | None:
    found = PNPM_VERSION_RE.search(_head(project, lockfile))
    major = PNPM_LOCKFILES.get(found[1]) if found else None
    if found is None or major is None:
        return None
    return ManagerRequest("pnpm", major, f"{lockfile} lockfileVersion {found[1]}"
                                         f" is written by pnpm {major}")


def _berry(project: Path, lockfile: str | None) -> ManagerRequest | None:
    pinned = YARN_PATH_RE.search(_head(project, ".yarnrc.yml"))
    if pinned:
        return ManagerRequest("yarn-berry", pinned[1], f".yarnrc.yml yarnPath is yarn "
                                                       f"{pinned[1]}", exact=True)
    found = BERRY_VERSION_RE.search(_head(project, lockfile)) if lockfile else None
    major = BERRY_LOCKFILES.get(found[1]) if found else None
    if found is None or major is None:
        return None
    return ManagerRequest("yarn-berry", major, f"{lockfile} __metadata version {found[1]} "
                                               f"is written by yarn {major}")


def _implied(project: Path, manager: PackageManager) -> ManagerRequest | None:
    lockfile, kind = manager.lockfile, manager.kind
    if kind == "yarn-berry":
        return _berry(project, lockfile)
    if lockfile is None:
        return None
    if kind == "pnpm":
        return _pnpm(project, lockfile)
    if kind == "yarn":
        return ManagerRequest("yarn", "1", f"{lockfile} is a yarn v1 lockfile")
    if kind == "bun":
        text_lock = lockfile == "bun.lock"
        return ManagerRequest("bun", "^1.2" if text_lock else "1",
                              "bun.lock is written by bun 1.2 or later" if text_lock
                              else "bun.lockb is read by bun 1")
    found = NPM_LOCK_RE.search(_head(project, lockfile))
    shown = f" lockfileVersion {found[1]}" if found else ""
    return ManagerRequest("npm", NPM_RANGE, f"{lockfile}{shown}: npm 10 or 11")


def requested_manager(project: Path, manager: PackageManager) -> ManagerRequest:
    """The version to install for ``manager`` (detected in ``project``), and why."""
    found = _declared(manager) or _implied(project, manager)
    if found is not None:
        return found
    what = manager.lockfile or "no lockfile"
    return ManagerRequest(manager.kind, DEFAULTS[manager.kind],
                          f"the default for {what}: {DEFAULTS[manager.kind]}")
