"""Clean up after builders that could not (killed with SIGKILL, a crash): their empty
cgroups and their work directories.

A work directory is live while its builder holds the flock on its ``.lock`` file (the
kernel drops the lock when the process dies), so only dead builders' directories are
removed. Their mounts are already gone with the builder's mount namespace. A build
cgroup is stale when it has had no process for ``STALE_S``: a live step's group always
holds the sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

from builder.cgroups import PARENT, ROOT

STALE_S = 60.0
PREFIX = "buildspace-build-"


def lock_workspace(root: Path) -> int:
    """Create and hold the lock that marks ``root`` as in use; returns its fd."""
    fd = os.open(f"{root}.lock", os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _owner_dead(lock: Path) -> int | None:
    """The lock's fd, locked by us, when its builder is gone; else None."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def reap_workspaces(tmp: Path) -> list[Path]:
    removed = []
    for lock in tmp.glob(f"{PREFIX}*.lock"):
        with contextlib.suppress(OSError):
            if time.time() - lock.stat().st_mtime < STALE_S:
                continue  # just made: its builder may not hold the lock yet
        fd = _owner_dead(lock)
        if fd is None:
            continue
        try:
            root = lock.with_suffix("")
            if root.is_dir() and not root.is_symlink() and not os.path.ismount(root):
                shutil.rmtree(root, ignore_errors=True)
                removed.append(root)
            lock.unlink()
        finally:
            os.close(fd)
    return removed


def _groups() -> list[Path]:
    parents = [*ROOT.glob(f"*/{PARENT}"), ROOT / PARENT]
    return [d for p in parents if p.is_dir() for d in p.iterdir() if d.is_dir()]


def reap_cgroups(matching: str = "") -> list[Path]:
    """Empty, stale build cgroups (whose name contains ``matching``)."""
    removed = []
    for group in (g for g in _groups() if matching in g.name):
        with contextlib.suppress(OSError):
            if time.time() - group.stat().st_mtime < STALE_S:
                continue
            if not (group / "cgroup.procs").read_text().strip():
                group.rmdir()
                removed.append(group)
    return removed


def reap(tmp: Path | None = None) -> list[Path]:
    """Remove what dead builders left; returns what was removed."""
    return reap_workspaces(tmp or Path(tempfile.gettempdir())) + reap_cgroups()
