"""Per-project dependency caches: ``cache_dir/<project id>/<package manager>``, owned
by the sandbox uid, mounted at ``/cache`` in the sandbox and used as the npm cache, the
yarn cache folder, the pnpm store, …

The sandbox never writes the cache itself: it sees an overlay whose lower layer is the
cache and whose upper layer lives on the build's size-limited disk, so whatever a
build writes there counts against its disk limit. After a successful install, this
trusted code copies the new regular files into the cache (never through a link), clears
the cache if it has grown past the limit, and gives the build step a fresh layer: what
the build step writes there is dropped. Without a limited disk (not root) the cache is
bound directly.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from builder.disk import LimitedDisk
from builder.workspace import Workspace

INSIDE = "/cache"
PROJECT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20


class CacheError(Exception):
    """The cache cannot be used; the build goes on without it."""


def project_cache(root: Path, project_id: str, kind: str, uid: int, gid: int) -> Path:
    """The cache directory of one project and package manager, created if need be."""
    if not PROJECT_RE.fullmatch(project_id) or project_id.strip(".") == "":
        raise CacheError(f"no cache for project id {project_id!r}")
    path = root / project_id / kind
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError("the cache is not a directory")
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)
    return path


@dataclass
class CacheView:
    """What the sandbox binds at ``/cache`` for one build: ``view``, an overlay over the
    cache whose writable layer is on the build's disk (or, without one, the cache)."""

    cache: Path
    view: Path
    workspace: Path | None = None  # where the layers are; None: the cache is bound as is
    layer: int = 0

    @classmethod
    def open(cls, ws: Workspace, cache: Path) -> CacheView:
        """Mount the overlay in the workspace. The cache is bound there first, so the
        overlay's options (which the sandbox can read in /proc/self/mountinfo) name only
        relative paths, nothing of the host."""
        if ws.disk is None:
            return cls(cache, cache)
        for name in ("cache-lower", "cache"):
            (ws.root / name).mkdir(mode=0o755)
        mount_in(ws.root, "--bind", str(cache), "cache-lower")
        view = cls(cache, ws.root / "cache", ws.root)
        view._mount_layer(ws.uid, ws.gid)
        return view

    @property
    def upper(self) -> Path | None:
        return None if self.workspace is None else self.workspace / f"cache-upper-{self.layer}"

    def _mount_layer(self, uid: int, gid: int) -> None:
        """A fresh, empty writable layer over the cache."""
        assert self.workspace is not None
        self.layer += 1
        upper, work = f"cache-upper-{self.layer}", f"cache-work-{self.layer}"
        for name in (upper, work):
            (self.workspace / name).mkdir(mode=0o755)
        os.chown(self.workspace / upper, uid, gid)
        mount_in(self.workspace, "-t", "overlay", "overlay", "-o",
               f"lowerdir=cache-lower,upperdir={upper},workdir={work},nodev,nosuid", "cache")

    def save(self, uid: int, gid: int, limit_mb: int) -> str | None:
        """Copy what the install added into the cache, then give the next step a fresh
        layer (what later steps write is never saved). Returns a line for the build log,
        if there is something to say."""
        upper = self.upper
        if upper is None:
            return None
        LimitedDisk(self.view, 0).unmount()
        merge(upper, self.cache, uid, gid)
        self._mount_layer(uid, gid)
        if tree_size(self.cache) <= limit_mb << 20:
            return None
        shutil.rmtree(self.cache, ignore_errors=True)
        self.cache.mkdir(mode=0o755)
        os.chown(self.cache, uid, gid)
        return f"The dependency cache grew past {limit_mb} MiB and was cleared"

    def close(self) -> None:
        """Unmount (the writable layer is dropped with the workspace)."""
        if self.workspace is not None:
            LimitedDisk(self.view, 0).unmount()
            LimitedDisk(self.workspace / "cache-lower", 0).unmount()


def mount_in(cwd: Path, *args: str) -> None:
    """``mount ARGS`` run in ``cwd`` (so relative paths are relative to it)."""
    done = subprocess.run(["mount", *args], cwd=cwd, capture_output=True, timeout=60,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    if done.returncode != 0:
        raise CacheError(f"could not mount the cache: {done.stderr.decode()[-200:].strip()}")


def tree_size(root: Path) -> int:
    total = 0
    for top, _dirs, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(top, name)).st_size
    return total


def merge(upper: Path, cache: Path, uid: int, gid: int) -> None:
    """Copy every regular file under ``upper`` to the same place under ``cache``,
    replacing what is there. Links, whiteouts and devices are skipped; no path in the
    cache is ever followed (each directory is opened with O_NOFOLLOW)."""
    root_fd = os.open(cache, DIR_FLAGS)
    try:
        for top, _dirs, files in os.walk(upper):
            parts = Path(top).relative_to(upper).parts
            dir_fd = _open_chain(root_fd, parts, uid, gid)
            try:
                for name in files:
                    _copy(Path(top) / name, dir_fd, name, uid, gid)
            finally:
                os.close(dir_fd)
    finally:
        os.close(root_fd)


def _open_chain(root_fd: int, parts: tuple[str, ...], uid: int, gid: int) -> int:
    fd = os.dup(root_fd)
    for part in parts:
        try:
            child = _subdir(fd, part, uid, gid)
        finally:
            os.close(fd)
        fd = child
    return fd


def _subdir(dir_fd: int, name: str, uid: int, gid: int) -> int:
    """Open (making it if need be) the real directory ``name``; a file or a symlink in
    its place is removed."""
    for _attempt in range(2):
        try:
            return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:  # not a directory, or a symlink (O_NOFOLLOW)
            os.unlink(name, dir_fd=dir_fd)
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def _copy(source: Path, dir_fd: int, name: str, uid: int, gid: int) -> None:
    st = os.lstat(source)
    if not stat.S_ISREG(st.st_mode):
        return
    temp = f".merge-{uuid.uuid4().hex}"
    read_flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    write_flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    # Executables stay executable (pnpm's store keeps package binaries as they are, and
    # links them into node_modules); nothing else of the mode is kept.
    mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
    with os.fdopen(os.open(source, read_flags), "rb") as fin, \
            os.fdopen(os.open(temp, write_flags, 0o600, dir_fd=dir_fd), "wb") as fout:
        shutil.copyfileobj(fin, fout, COPY_CHUNK)
        os.fchown(fout.fileno(), uid, gid)
        os.fchmod(fout.fileno(), mode)
    try:
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:  # a directory is in the way: keep the cache as it is
        os.unlink(temp, dir_fd=dir_fd)
