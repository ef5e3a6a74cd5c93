"""The per-build work directory, outside the platform's data directory.

    root/          root-owned, mode 0711: the sandbox uid may pass, not list
      src/         the checkout, handed to the sandbox uid; bound at /workspace
      home/        the sandbox's HOME (npm cache); bound at /home/builder
      etc/         passwd, group, hosts, resolv.conf written here, bound read-only

Only ``src`` and ``home`` are visible (and writable) inside the sandbox.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builder.network import RESOLV_CONF

SANDBOX_USER = "builder"


@dataclass(frozen=True)
class Workspace:
    root: Path
    uid: int
    gid: int

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @classmethod
    def create(cls, uid: int, gid: int, data_dir: Path | None = None) -> Workspace:
        """A fresh work directory in the system temp dir, never under ``data_dir``.
        Not running as root, the sandbox runs as the current user (no uid to drop to)."""
        if os.geteuid() != 0:
            uid, gid = os.getuid(), os.getgid()
        root = Path(tempfile.mkdtemp(prefix="buildspace-build-")).resolve()
        if data_dir is not None and root.is_relative_to(data_dir.resolve()):
            shutil.rmtree(root)
            raise RuntimeError("the temp dir is inside the data dir: set TMPDIR elsewhere")
        os.chmod(root, 0o711)
        ws = cls(root, uid, gid)
        ws.home.mkdir(mode=0o700)
        os.chown(ws.home, uid, gid)
        ws.etc.mkdir(mode=0o755)
        ws._write_etc()
        return ws

    def _write_etc(self) -> None:
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
        shutil.rmtree(self.root, ignore_errors=True)
