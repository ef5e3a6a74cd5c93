"""How a sandboxed command ended, and the watch that ends it as soon as it goes over a
limit the kernel counts (memory, processes) or fills its disk."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

from builder.cgroups import BuildCgroup, Limits
from builder.disk import LimitedDisk

WATCH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed command ended; ``exceeded`` names the limit that ended it
    ("timeout", "memory", "pids", "disk")."""

    exit_code: int | None
    exceeded: str | None
    wall_ms: int
    limits: Limits

    @property
    def timed_out(self) -> bool:
        return self.exceeded == "timeout"

    @property
    def out_of_memory(self) -> bool:
        return self.exceeded == "memory"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.exceeded is None

    @property
    def reason(self) -> str | None:
        """Why it failed, in words; None when it succeeded."""
        if self.ok:
            return None
        limits = self.limits
        words = {"timeout": f"timed out after {limits.timeout_s:g} s",
                 "memory": f"out of memory: limit {limits.memory_mb} MiB",
                 "pids": f"process limit exceeded: limit {limits.pids} processes",
                 "disk": f"disk limit exceeded: limit {limits.disk_mb} MiB"}
        if self.exceeded is not None:
            return words[self.exceeded]
        if self.exit_code is not None and self.exit_code < 0:
            return f"killed by signal {signal.Signals(-self.exit_code).name}"
        return f"exited with code {self.exit_code}"


def exceeded(cgroup: BuildCgroup | None, disk: LimitedDisk | None) -> str | None:
    """The limit the command has hit, if any."""
    hit = cgroup.exceeded() if cgroup is not None else None
    if hit is None and disk is not None and disk.full():
        return "disk"
    return hit


async def watch(cgroup: BuildCgroup | None, disk: LimitedDisk | None) -> str:
    """Return as soon as a limit is hit (polling the kernel's counters)."""
    while (hit := exceeded(cgroup, disk)) is None:
        await asyncio.sleep(WATCH_INTERVAL_S)
    return hit
