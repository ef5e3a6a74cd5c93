"""Run one untrusted shell command (an install or build script) in a sandbox.

As root, bwrap's ``--uid`` is cosmetic, so ``setpriv`` first drops to the unprivileged
sandbox uid with no capabilities; then bubblewrap gives the command new namespaces, a
read-only /usr, a fresh /tmp, the checkout at /workspace, and an allow-listed
environment. Nothing else of the host is visible: no platform credentials, no data
directory, no host loopback. The network, when asked for, is slirp4netns. Limits come
from a cgroup the command joins before it starts, plus a wall-clock timeout that kills
the sandbox's pid-namespace init (which ends every process in it) and the cgroup.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.cgroups import BuildCgroup, CgroupUnavailable, Limits
from builder.lines import OnLine, pump
from builder.network import NetworkError, Slirp, loopback_configured, read_pipe
from builder.workspace import Workspace

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
LAUNCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOME = "/home/builder"
TOP_LEVEL_LINKS = ("bin", "lib", "lib32", "lib64", "libx32", "sbin")


@dataclass(frozen=True)
class Outcome:
    """How a sandboxed command ended."""

    exit_code: int | None
    timed_out: bool
    out_of_memory: bool
    wall_ms: int
    limits: Limits

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def reason(self) -> str | None:
        """Why it failed, in words; None when it succeeded."""
        if self.ok:
            return None
        if self.timed_out:
            return f"timed out after {self.limits.timeout_s:g} s"
        if self.out_of_memory:
            return f"out of memory: limit {self.limits.memory_mb} MiB"
        if self.exit_code is not None and self.exit_code < 0:
            return f"killed by signal {signal.Signals(-self.exit_code).name}"
        return f"exited with code {self.exit_code}"


def sandbox_env() -> dict[str, str]:
    """The whole environment of untrusted code: nothing is inherited."""
    return {
        "PATH": SANDBOX_PATH, "HOME": HOME, "USER": "builder", "LANG": "C.UTF-8",
        "CI": "1", "TMPDIR": "/tmp", "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt",
        "npm_config_cache": f"{HOME}/.npm", "npm_config_update_notifier": "false",
        "npm_config_fund": "false", "npm_config_audit": "false",
    }


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL_LINKS:
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args + ["--ro-bind", "/etc/ssl", "/etc/ssl"]


def bwrap_args(ws: Workspace, cwd: str, command: str, info_fd: int, block_fd: int | None
               ) -> list[str]:
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--hostname", "builder", *_system_mounts()]
    for name in ("passwd", "group", "hosts", "nsswitch.conf", "resolv.conf"):
        args += ["--ro-bind", str(ws.etc / name), f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
             "--bind", str(ws.src), "/workspace", "--bind", str(ws.home), HOME,
             "--chdir", f"/workspace/{cwd}".rstrip("/"), "--info-fd", str(info_fd)]
    if block_fd is not None:
        args += ["--block-fd", str(block_fd)]
    for key, value in sandbox_env().items():
        args += ["--setenv", key, value]
    return [*args, "/bin/sh", "-c", command]


def setpriv_args(uid: int, gid: int) -> list[str]:
    """Drop to the sandbox uid with no capabilities (only root has one to drop)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


@dataclass
class _Running:
    proc: asyncio.subprocess.Process
    cgroup: BuildCgroup | None
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
    """The launcher chain (sh, setpriv, bwrap) gets no builder secrets in its environment
    either: bwrap runs as the sandbox uid on the host until it enters the namespaces."""
    return await asyncio.create_subprocess_exec(
        *argv, pass_fds=fds, env={"PATH": LAUNCH_PATH}, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)


def _open_cgroup(limits: Limits) -> tuple[BuildCgroup | None, str | None]:
    try:
        return BuildCgroup.create(f"build-{uuid.uuid4().hex[:12]}", limits), None
    except CgroupUnavailable as exc:
        return None, str(exc)


async def run(ws: Workspace, command: str, *, cwd: str, network: bool, limits: Limits,
              on_line: OnLine) -> Outcome:
    """Run ``command`` with ``/bin/sh -c`` in ``/workspace/<cwd>``; stream its output
    lines to ``on_line(stream, text)`` and report how it ended."""
    cgroup, why = _open_cgroup(limits)
    if why:
        await on_line("system", f"Resource limits unavailable ({why}); only the timeout applies")
    try:
        return await _run_in(cgroup, ws, command, cwd, network, limits, on_line)
    finally:
        if cgroup is not None:
            await asyncio.to_thread(cgroup.remove)


async def _run_in(cgroup: BuildCgroup | None, ws: Workspace, command: str, cwd: str,
                  network: bool, limits: Limits, on_line: OnLine) -> Outcome:
    info_r, info_w = os.pipe()
    block_r, block_w = os.pipe() if network else (None, None)
    child_fds = tuple(fd for fd in (info_w, block_r) if fd is not None)
    argv = setpriv_args(ws.uid, ws.gid) + bwrap_args(ws, cwd, command, info_w, block_r)
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
    running = _Running(proc, cgroup)
    try:
        timed_out = await _supervise(running, info_r, block_w, limits, on_line, started)
    finally:
        _close(block_w, running.init_pidfd)
    oom = cgroup.out_of_memory() if cgroup else False
    wall_ms = int((time.monotonic() - started) * 1000)
    return Outcome(None if timed_out else proc.returncode, timed_out, oom, wall_ms, limits)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)


async def _supervise(running: _Running, info_r: int, block_w: int | None, limits: Limits,
                     on_line: OnLine, started: float) -> bool:
    """Wait for the command and its output; True when the timeout had to end it."""
    proc, slirp = running.proc, None
    assert proc.stdout is not None and proc.stderr is not None
    readers = [asyncio.create_task(pump(proc.stdout, "stdout", on_line)),
               asyncio.create_task(pump(proc.stderr, "stderr", on_line))]
    waiter = asyncio.ensure_future(asyncio.gather(proc.wait(), *readers))
    waiter.add_done_callback(_retrieve)
    try:
        await running.watch_init(info_r)  # closes info_r
        if block_w is not None:
            slirp = await _start_network(running, block_w)
        remaining = limits.timeout_s - (time.monotonic() - started)
        done, _ = await asyncio.wait({waiter}, timeout=max(remaining, 0))
        if done:
            waiter.result()
        return not done
    except BaseException:
        waiter.cancel()
        raise
    finally:
        await running.stop()
        await asyncio.wait(readers)
        if slirp is not None:
            await slirp.close()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the outcome seen: a failure is raised where it is awaited, not logged twice."""
    if not future.cancelled():
        future.exception()


async def _start_network(running: _Running, block_w: int) -> Slirp:
    """Attach slirp4netns, then let the sandbox start (bwrap waits on --block-fd)."""
    if running.init_pid is None or not await loopback_configured(running.init_pid):
        raise NetworkError("the sandbox did not start")
    slirp = await Slirp.attach(running.init_pid)
    os.write(block_w, b"1")
    return slirp
