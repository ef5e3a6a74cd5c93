"""Reuse a project's installed ``node_modules`` when nothing that decides it changed.

After a successful install, a snapshot of ``node_modules`` is kept in the project's
cache with a key: a hash of package.json, the lockfile, the package manager's config
files, the install command, the Node.js version and the build variables. A later build
with the same key gets the snapshot as an overlay (its writes land on the build's own
disk and are dropped) and skips the install: no package manager start, no extraction.

Only when it is safe to skip: the project has no install scripts of its own (they
could write anywhere in the checkout), no workspaces, and no committed node_modules.
The snapshot is copied by trusted code: symlinks are copied as symlinks (never
followed), FIFOs and devices are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from builder.cache import mount_in
from builder.plan import Plan
from builder.repo_files import (
    MAX_PACKAGE_JSON,
    RepoFileError,
    exists,
    read_bytes,
    read_package_json,
    script,
)
from builder.workspace import Workspace

KEY_FILES = ("package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
             "pnpm-lock.yaml", "bun.lock", "bun.lockb", ".npmrc", ".yarnrc", ".yarnrc.yml",
             "pnpm-workspace.yaml", ".pnpmfile.cjs")
ROOT_SCRIPTS = ("preinstall", "install", "postinstall", "prepare")
MAX_KEY_FILE = 64 << 20


def modules_key(project: Path, plan: Plan, variables: dict[str, str]) -> str | None:
    """The key of the project's dependencies, or None when a snapshot must not be used."""
    try:
        return _key(project, plan, variables)
    except RepoFileError:  # a lockfile that is a FIFO, or huge: just install
        return None


def _key(project: Path, plan: Plan, variables: dict[str, str]) -> str | None:
    package = read_package_json(project)
    if package is None or plan.manager is None or not plan.install:
        return None
    if any(script(package, name) for name in ROOT_SCRIPTS) or "workspaces" in package or \
            plan.workspace is not None:
        return None
    if exists(project, "node_modules"):
        return None
    digest = hashlib.sha256(json.dumps(
        [plan.manager.kind, plan.install, plan.root, plan.toolchain_key,
         sorted(variables.items())]).encode())
    for name in KEY_FILES:
        data = read_bytes(project, name, MAX_KEY_FILE if name != "package.json"
                          else MAX_PACKAGE_JSON)
        digest.update(f"{name}:{-1 if data is None else len(data)}:".encode() + (data or b""))
    return digest.hexdigest()


@dataclass
class ModulesCache:
    """``cache_dir/<project>/<manager>-node_modules``: ``key`` and ``tree``."""

    path: Path

    def matches(self, key: str) -> bool:
        try:
            return (self.path / "key").read_text() == key and (self.path / "tree").is_dir()
        except OSError:
            return False

    def restore(self, ws: Workspace, root: str) -> None:
        """Mount the snapshot at the checkout's node_modules (writes go to the build's
        disk). Relative paths keep the host's out of /proc/self/mountinfo."""
        target = ws.src / root / "node_modules"
        target.mkdir()
        os.chown(target, ws.uid, ws.gid)
        for name in ("modules-lower", "modules-upper", "modules-work"):
            (ws.root / name).mkdir(mode=0o755)
        os.chown(ws.root / "modules-upper", ws.uid, ws.gid)
        mount_in(ws.root, "--bind", str(self.path / "tree"), "modules-lower")
        mount_in(ws.root, "-t", "overlay", "overlay", "-o", "lowerdir=modules-lower,upperdir="
               "modules-upper,workdir=modules-work,nodev,nosuid",
               str(target.relative_to(ws.root)))

    def save(self, ws: Workspace, root: str, key: str, limit_mb: int) -> bool:
        """Snapshot the installed node_modules; False when it is too big to keep."""
        source = ws.src / root / "node_modules"
        if not source.is_dir() or source.is_symlink():
            return False
        self.path.mkdir(parents=True, exist_ok=True)
        fresh = self.path / f"tree-{uuid.uuid4().hex[:8]}"
        size = copy_tree(source, fresh, ws.uid, ws.gid, limit_mb << 20)
        if size is None:
            shutil.rmtree(fresh, ignore_errors=True)
            return False
        old = self.path / f"old-{uuid.uuid4().hex[:8]}"
        if (self.path / "tree").exists():
            os.rename(self.path / "tree", old)
        os.rename(fresh, self.path / "tree")
        (self.path / "key").write_text(key)
        shutil.rmtree(old, ignore_errors=True)
        return True


def copy_tree(source: Path, dest: Path, uid: int, gid: int, limit: int) -> int | None:
    """Copy ``source`` to the new directory ``dest``: directories, regular files (with
    their exec bits) and symlinks as they are. Bytes copied, or None past ``limit``."""
    total, pending = 0, [(source, dest)]
    while pending:
        src_dir, dst_dir = pending.pop()
        os.mkdir(dst_dir, 0o755)
        os.chown(dst_dir, uid, gid)
        with os.scandir(src_dir) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                target = dst_dir / entry.name
                if stat.S_ISDIR(st.st_mode):
                    pending.append((Path(entry.path), target))
                elif stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(entry.path), target)
                    os.chown(target, uid, gid, follow_symlinks=False)
                elif stat.S_ISREG(st.st_mode):
                    total += _copy_file(Path(entry.path), target, st, uid, gid)
                    if total > limit:
                        return None
    return total


def _copy_file(source: Path, target: Path, st: os.stat_result, uid: int, gid: int) -> int:
    mode = 0o755 if st.st_mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC),
                   "rb") as fin, os.fdopen(os.open(target, flags, mode), "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        os.fchown(fout.fileno(), uid, gid)
        os.fchmod(fout.fileno(), mode)
    return st.st_size
