"""A size-limited filesystem for one build's work directory.

Everything a build can write (the checkout, HOME, /tmp, its view of the dependency
cache) lives on a fresh ext4 filesystem in a sparse image file of ``build_disk_mb``,
loop-mounted ``nodev,nosuid``. The filesystem itself enforces the limit (a write past
it fails with ENOSPC), so a build cannot fill the host's disk; the host only ever holds
the blocks actually written. The image is unlinked as soon as it is mounted: unmounting
frees it, and nothing is left on disk if the builder dies.

This needs root (mount, a loop device). Elsewhere the caller runs without a disk limit
and says so in the build log. ``python -m builder.run`` first moves into a mount
namespace of its own (``private_mounts``), so even a builder killed with SIGKILL leaves
no mount behind: the namespace, its mounts and the loop device go when it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

RESERVE_BYTES = 2 << 20  # less free space than this: the filesystem is full
HOST_RESERVE_MB = 256  # never let a build's image take the host's last free space
BYTES_PER_INODE = 8192  # node_modules is many small files
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18


class DiskUnavailable(Exception):
    """No size-limited filesystem here; the message says why."""


@dataclass(frozen=True)
class LimitedDisk:
    """A mounted size-limited filesystem."""

    mountpoint: Path
    limit_mb: int

    def full(self) -> bool:
        """No room left: the build has hit the limit (space or inodes)."""
        st = os.statvfs(self.mountpoint)
        return st.f_bavail * st.f_frsize < RESERVE_BYTES or st.f_favail == 0

    def used_mb(self) -> float:
        st = os.statvfs(self.mountpoint)
        return (st.f_blocks - st.f_bfree) * st.f_frsize / (1 << 20)

    def unmount(self) -> None:
        """Unmount (lazily if something still holds it); the image goes with it."""
        if _run("umount", str(self.mountpoint)) != 0:
            _run("umount", "-l", str(self.mountpoint))


def _run(*argv: str) -> int:
    try:
        done = subprocess.run(argv, env={"PATH": TOOL_PATH}, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiskUnavailable(f"{argv[0]}: {exc}") from None
    return done.returncode


def _check(*argv: str) -> None:
    if _run(*argv) != 0:
        raise DiskUnavailable(f"{argv[0]} failed")


def host_room_mb(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // (1 << 20) - HOST_RESERVE_MB


def mount_limited(mountpoint: Path, limit_mb: int) -> LimitedDisk:
    """Mount a new empty filesystem of at most ``limit_mb`` MiB (less when the host has
    less room) on the empty directory ``mountpoint``."""
    if os.geteuid() != 0:
        raise DiskUnavailable("not running as root")
    size_mb = min(limit_mb, host_room_mb(mountpoint.parent))
    if size_mb < 16:
        raise DiskUnavailable("the builder's disk is full")
    image = mountpoint.parent / f"{mountpoint.name}.img"
    with os.fdopen(os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600),
                   "wb") as f:
        f.truncate(size_mb << 20)
    try:
        _check("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal",
               "-i", str(BYTES_PER_INODE), "-E", "lazy_itable_init=1,nodiscard", str(image))
        _check("mount", "-t", "ext4", "-o", "loop,nodev,nosuid,noatime", str(image),
               str(mountpoint))
    finally:
        image.unlink()
    with contextlib.suppress(OSError):
        (mountpoint / "lost+found").rmdir()
    return LimitedDisk(mountpoint, size_mb)


def private_mounts() -> bool:
    """Move this (single-threaded) process into a new mount namespace whose mounts do
    not propagate to the host. False where that is not allowed (not root)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    return libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
