"""Run one untrusted shell command (an install or build script) in a sandbox.

``builder.bwrap`` builds the command line: the unprivileged sandbox uid, new
namespaces, the workspace and nothing else of the host. Limits come from a cgroup the
command joins before it starts (memory, processes, CPU) and from the workspace's
size-limited filesystem (disk); a watcher ends the whole tree as soon as one is hit, and
a wall-clock timeout does the same. Ending the tree means killing the sandbox's
pid-namespace init (which ends every process in it) and then the cgroup. The network,
when asked for, is slirp4netns behind ``builder.netfilter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from builder.bwrap import LAUNCH_PATH, Setup, bwrap_args, env_args, setpriv_args
from builder.cgroups import BuildCgroup, CgroupUnavailable, Limits
from builder.lines import OnLine, pump
from builder.netfilter import FilterUnavailable, NetFilter
from builder.network import NetworkError, Slirp, loopback_configured, read_pipe
from builder.outcome import Outcome, exceeded, watch
from builder.threads import settled
from builder.workspace import Workspace


@dataclass
class _Running:
    proc: asyncio.subprocess.Process
    cgroup: BuildCgroup | None
    label: str
    init_pid: int | None = None
    init_pidfd: int | None = None

    async def stop(self, grace: float = 5.0) -> None:
        """End the sandbox if it still runs. Killing the pid-namespace init ends every
        process in it and lets bwrap reap it and exit; the cgroup and the process group
        are the fallback, so no process is left behind (and no zombie is orphaned)."""
        if self.proc.returncode is not None:
            return
        if self.init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        if self.proc.returncode is None:
            if self.cgroup is not None:
                self.cgroup.kill_all()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def watch_init(self, info_r: int) -> None:
        """Hold a pidfd on the sandbox's init, so a kill never hits a recycled pid."""
        info = await read_pipe(info_r)
        with contextlib.suppress(ValueError, KeyError, OSError):
            self.init_pid = int(json.loads(info)["child-pid"])
            self.init_pidfd = os.pidfd_open(self.init_pid)


async def _spawn(argv: list[str], fds: tuple[int, ...]) -> asyncio.subprocess.Process:
    """The launcher chain (sh, setpriv, bwrap) runs on the host with nothing of the
    builder's environment, nor of the build's (bwrap reads that from a memfd), and in /:
    the sandbox can read its init's environment, where sh would put PWD."""
    return await asyncio.create_subprocess_exec(
        *argv, pass_fds=fds, env={"PATH": LAUNCH_PATH}, cwd="/",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)


def _open_cgroup(limits: Limits, label: str) -> tuple[BuildCgroup | None, str | None]:
    name = f"{label}-{uuid.uuid4().hex[:12]}"
    try:
        return BuildCgroup.create(name, limits), None
    except CgroupUnavailable as exc:
        return None, str(exc)


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("buildspace-env")
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


async def run(ws: Workspace, command: str, *, cwd: str, network: bool, limits: Limits,
              on_line: OnLine, setup: Setup | None = None, label: str = "build") -> Outcome:
    """Run ``command`` with ``/bin/sh -c`` in ``/workspace/<cwd>``; stream its output
    lines to ``on_line(stream, text)`` and report how it ended. The cgroup is named
    after ``label``."""
    if ws.disk is not None:
        limits = replace(limits, disk_mb=ws.disk.limit_mb)
    label = re.sub(r"[^A-Za-z0-9_-]", "-", label)[:60]
    cgroup, why = _open_cgroup(limits, label)
    if why:
        await on_line("system", f"Resource limits unavailable ({why}); only the timeout applies")
    try:
        return await _run_in(cgroup, ws, command, cwd, network, limits, on_line,
                             setup or Setup(), label)
    finally:
        if cgroup is not None:
            await asyncio.to_thread(cgroup.remove)


async def _run_in(cgroup: BuildCgroup | None, ws: Workspace, command: str, cwd: str,
                  network: bool, limits: Limits, on_line: OnLine, setup: Setup, label: str
                  ) -> Outcome:
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe() if network else (None, None)
    env_fd = _memfd(env_args(setup.env))
    child_fds = tuple(fd for fd in (info_w, block_r, env_fd) if fd is not None)
    argv = setpriv_args(ws.uid, ws.gid) + bwrap_args(
        ws, cwd, command, setup, info_fd=info_w, env_fd=env_fd, block_fd=block_r)
    if cgroup is not None:
        argv = ["/bin/sh", "-c", cgroup.join_script(), "sh", *argv]
    started = time.monotonic()
    try:
        proc = await _spawn(argv, child_fds)
    except BaseException:
        _close(info_r, block_w)
        raise
    finally:
        _close(*child_fds)
    running = _Running(proc, cgroup, label)
    try:
        hit = await _supervise(running, ws, info_r, block_w, limits, on_line, started)
    finally:
        _close(block_w, running.init_pidfd)
    hit = hit or exceeded(cgroup, ws.disk)
    wall_ms = int((time.monotonic() - started) * 1000)
    return Outcome(None if hit and proc.returncode != 0 else proc.returncode, hit, wall_ms,
                   limits)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


async def _supervise(running: _Running, ws: Workspace, info_r: int, block_w: int | None,
                     limits: Limits, on_line: OnLine, started: float) -> str | None:
    """Wait for the command and its output; the limit that ended it, if one did."""
    proc, slirp = running.proc, None
    assert proc.stdout is not None and proc.stderr is not None
    readers = [asyncio.create_task(pump(proc.stdout, "stdout", on_line)),
               asyncio.create_task(pump(proc.stderr, "stderr", on_line))]
    waiter = asyncio.ensure_future(asyncio.gather(proc.wait(), *readers))
    waiter.add_done_callback(_retrieve)
    watcher = asyncio.create_task(watch(running.cgroup, ws.disk))
    try:
        await running.watch_init(info_r)  # closes info_r
        if block_w is not None:
            slirp = await _start_network(running, block_w, on_line)
        remaining = limits.timeout_s - (time.monotonic() - started)
        either: set[asyncio.Future[Any]] = {waiter, watcher}
        done, _ = await asyncio.wait(either, timeout=max(remaining, 0),
                                     return_when=asyncio.FIRST_COMPLETED)
        if waiter in done:
            waiter.result()
            return None
        return watcher.result() if watcher in done else "timeout"
    except BaseException:
        waiter.cancel()
        raise
    finally:
        watcher.cancel()
        await running.stop()
        await asyncio.wait(readers)
        if slirp is not None:
            await slirp.close()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the outcome seen: a failure is raised where it is awaited, not logged twice."""
    if not future.cancelled():
        future.exception()


async def _start_network(running: _Running, block_w: int, on_line: OnLine) -> Slirp:
    """Attach slirp4netns, then let the sandbox start (bwrap waits on --block-fd)."""
    if running.init_pid is None or not await loopback_configured(running.init_pid):
        raise NetworkError("the sandbox did not start")
    try:
        netfilter: NetFilter | None = await settled(NetFilter.create, running.label,
                                                    undo=NetFilter.remove)
    except FilterUnavailable as exc:
        netfilter = None
        await on_line("system", f"Network filter unavailable ({exc}): the sandbox can reach "
                                f"the host's network")
    slirp = await Slirp.attach(running.init_pid, netfilter)
    os.write(block_w, b"1")
    return slirp
