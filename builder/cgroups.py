"""A cgroup per sandboxed command: memory, process and CPU limits, out-of-memory
detection, and a way to kill every process of the build at once.

cgroup v2 is used where ``/sys/fs/cgroup/cgroup.controllers`` exists, else the v1
hierarchies (``/sys/fs/cgroup/{memory,pids,cpu}``). The sandbox joins the group before
it starts (a wrapper writes its own pid to each ``cgroup.procs`` and then execs), so no
process of the build is ever outside it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "buildspace"
CPU_PERIOD_US = 100_000
V1 = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed command."""

    timeout_s: float
    memory_mb: int
    pids: int
    cpus: float
    disk_mb: int | None = None  # enforced by the workspace's filesystem, not the cgroup


class CgroupUnavailable(Exception):
    """No writable cgroup hierarchy here; the caller runs without resource limits."""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _read_counter(path: Path, key: str) -> int:
    """``key N`` from a flat-keyed file such as memory.events or memory.oom_control."""
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


@dataclass
class BuildCgroup:
    """The cgroup directories of one sandboxed command (one per v1 controller)."""

    version: int
    dirs: dict[str, Path]

    @classmethod
    def create(cls, name: str, limits: Limits, root: Path = ROOT) -> BuildCgroup:
        v2 = (root / "cgroup.controllers").exists()
        try:
            return _create_v2(root, name, limits) if v2 else _create_v1(root, name, limits)
        except OSError as exc:
            made = [root / PARENT / name] if v2 else [root / c / PARENT / name for c in V1]
            for d in made:
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise CgroupUnavailable(f"{exc.strerror or exc} ({exc.filename})") from None

    def join_script(self) -> str:
        """Shell that moves itself into every directory of the group, then execs "$@"."""
        files = " ".join(shlex.quote(str(d / "cgroup.procs")) for d in self.dirs.values())
        return f'for f in {files}; do echo $$ > "$f" || exit 125; done; exec "$@"'

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError):
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
        return found

    def kill_all(self) -> None:
        """SIGKILL every process in the group (new forks are caught by the next pass)."""
        with contextlib.suppress(OSError):
            if self.version == 2:
                _write(self.dirs["unified"] / "cgroup.kill", "1")
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def out_of_memory(self) -> bool:
        if self.version == 2:
            return _read_counter(self.dirs["unified"] / "memory.events", "oom_kill") > 0
        return _read_counter(self.dirs["memory"] / "memory.oom_control", "oom_kill") > 0

    def pids_exhausted(self) -> bool:
        """A fork or thread creation failed because the group is at its process limit."""
        d = self.dirs["unified" if self.version == 2 else "pids"]
        return _read_counter(d / "pids.events", "max") > 0

    def exceeded(self) -> str | None:
        """The limit the group has hit ("memory", "pids"), if any."""
        if self.out_of_memory():
            return "memory"
        return "pids" if self.pids_exhausted() else None

    def remove(self, timeout: float = 5.0) -> None:
        """Kill what is left and remove the directories (a group with members is busy)."""
        deadline = time.monotonic() + timeout
        for d in self.dirs.values():
            while d.exists():
                try:
                    d.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    self.kill_all()
                    time.sleep(0.01)


def _create_v1(root: Path, name: str, limits: Limits) -> BuildCgroup:
    dirs = {c: root / c / PARENT / name for c in V1}
    for d in dirs.values():
        d.mkdir(parents=True)
    memory = str(limits.memory_mb * 1024 * 1024)
    _write(dirs["memory"] / "memory.limit_in_bytes", memory)
    with contextlib.suppress(OSError):  # only with swap accounting: no swapping around it
        _write(dirs["memory"] / "memory.memsw.limit_in_bytes", memory)
    _write(dirs["pids"] / "pids.max", str(limits.pids))
    _write(dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
    _write(dirs["cpu"] / "cpu.cfs_quota_us", str(int(limits.cpus * CPU_PERIOD_US)))
    return BuildCgroup(1, dirs)


def _create_v2(root: Path, name: str, limits: Limits) -> BuildCgroup:
    parent = root / PARENT
    parent.mkdir(exist_ok=True)
    for d in (root, parent):
        _write(d / "cgroup.subtree_control", "+memory +pids +cpu")
    group = parent / name
    group.mkdir()
    _write(group / "memory.max", str(limits.memory_mb * 1024 * 1024))
    with contextlib.suppress(OSError):
        _write(group / "memory.swap.max", "0")
    _write(group / "pids.max", str(limits.pids))
    _write(group / "cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
    return BuildCgroup(2, {"unified": group})
