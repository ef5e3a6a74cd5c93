"""The per-build work directory, outside the platform's data directory, on a
size-limited filesystem of its own (``builder.disk``) when the builder runs as root.

    root/          root-owned, mode 0711: the sandbox uid may pass, not list
      src/         the checkout, handed to the sandbox uid; bound at /workspace
      home/        the sandbox's HOME; bound at /home/builder
      tmp/         the sandbox's /tmp
      etc/         passwd, group, hosts, resolv.conf written here, bound read-only
      cache*/      the sandbox's view of the dependency cache (``builder.cache``)

Only ``src``, ``home``, ``tmp`` and the cache are visible (and writable) in the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builder.disk import DiskUnavailable, LimitedDisk, mount_limited
from builder.network import RESOLV_CONF
from builder.reaper import lock_workspace

SANDBOX_USER = "builder"


@dataclass
class Workspace:
    root: Path
    uid: int
    gid: int
    disk: LimitedDisk | None = None
    disk_note: str | None = None  # why there is no disk limit, when there is none
    lock_fd: int | None = None  # held while the workspace is in use (``builder.reaper``)

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @classmethod
    def create(cls, uid: int, gid: int, data_dir: Path | None = None,
               disk_mb: int | None = None, label: str = "") -> Workspace:
        """A fresh work directory in the system temp dir, never under ``data_dir``.
        Not running as root, the sandbox runs as the current user (no uid to drop to)."""
        if os.geteuid() != 0:
            uid, gid = os.getuid(), os.getgid()
        prefix = f"buildspace-build-{label}-" if label else "buildspace-build-"
        root = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
        if data_dir is not None and root.is_relative_to(data_dir.resolve()):
            shutil.rmtree(root)
            raise RuntimeError("the temp dir is inside the data dir: set TMPDIR elsewhere")
        lock_fd = lock_workspace(root)
        disk, note = _disk(root, disk_mb)
        ws = cls(root, uid, gid, disk, note, lock_fd)
        try:
            ws._populate()
        except BaseException:
            ws.remove()
            raise
        return ws

    def _populate(self) -> None:
        os.chmod(self.root, 0o711)
        for path in (self.home, self.tmp):
            path.mkdir(mode=0o700)
            os.chown(path, self.uid, self.gid)
        self.etc.mkdir(mode=0o755)
        files = {
            "passwd": f"{SANDBOX_USER}:x:{self.uid}:{self.gid}::/home/builder:/bin/sh\n",
            "group": f"{SANDBOX_USER}:x:{self.gid}:\n",
            "hosts": "127.0.0.1 localhost\n::1 localhost\n",
            "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
            "resolv.conf": RESOLV_CONF,
        }
        for name, text in files.items():
            (self.etc / name).write_text(text)
            os.chmod(self.etc / name, 0o644)

    def hand_over(self) -> None:
        """Give the checkout to the sandbox uid. Symlinks are changed, never followed."""
        os.chmod(self.src, 0o755)
        os.chown(self.src, self.uid, self.gid)
        for top, dirs, files in os.walk(self.src):
            for name in dirs + files:
                os.chown(os.path.join(top, name), self.uid, self.gid, follow_symlinks=False)

    def remove(self) -> None:
        """Unmount what is mounted in it (the build's data goes with its filesystem),
        then remove the directory."""
        for mountpoint in sorted(mounts_under(self.root), reverse=True):
            LimitedDisk(mountpoint, 0).unmount()
        if not os.path.ismount(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
        if self.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(f"{self.root}.lock")
            os.close(self.lock_fd)
            self.lock_fd = None


def _disk(root: Path, disk_mb: int | None) -> tuple[LimitedDisk | None, str | None]:
    if disk_mb is None:
        return None, None
    try:
        return mount_limited(root, disk_mb), None
    except DiskUnavailable as exc:
        return None, str(exc)


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root`` (from /proc/self/mounts)."""
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            point = Path(line.split()[1].replace("\\040", " "))
            if point == root or point.is_relative_to(root):
                found.append(point)
    return found
