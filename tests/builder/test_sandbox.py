"""Untrusted commands in the real sandbox: bubblewrap, setpriv, cgroups, slirp4netns."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder import sandbox
from builder.cgroups import PARENT, ROOT, Limits
from builder.netfilter import host_addresses
from builder.sandbox import Outcome
from builder.workspace import Workspace
from tests.builder.support import processes_with
from tests.support.waiting import eventually_async

UID = 64000
LIMITS = Limits(timeout_s=30, memory_mb=256, pids=64, cpus=1.0)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox tests run as root")


@pytest.fixture
def ws() -> Iterator[Workspace]:
    workspace = Workspace.create(UID, UID)
    workspace.src.mkdir()
    (workspace.src / "app").mkdir()
    workspace.hand_over()
    yield workspace
    workspace.remove()


async def run(ws: Workspace, command: str, *, network: bool = False, limits: Limits = LIMITS,
              cwd: str = "") -> tuple[Outcome, list[tuple[str, str]]]:
    lines: list[tuple[str, str]] = []

    async def on_line(stream: str, text: str) -> None:
        lines.append((stream, text))

    outcome = await sandbox.run(ws, command, cwd=cwd, network=network, limits=limits,
                                on_line=on_line)
    return outcome, lines


def out(lines: list[tuple[str, str]], stream: str = "stdout") -> list[str]:
    return [text for s, text in lines if s == stream]


@pytest.mark.asyncio
async def test_a_command_runs_as_the_unprivileged_uid_in_the_checkout(ws: Workspace):
    outcome, lines = await run(ws, "id -u; id -g; pwd; grep CapEff /proc/self/status; touch made",
                               cwd="app")
    assert outcome.ok and outcome.exit_code == 0 and outcome.reason is None
    assert out(lines)[:3] == ["64000", "64000", "/workspace/app"]
    assert out(lines)[3].split() == ["CapEff:", "0000000000000000"]
    assert (ws.src / "app" / "made").stat().st_uid == UID


@pytest.mark.asyncio
async def test_the_host_filesystem_and_data_dir_are_invisible(ws: Workspace, tmp_path: Path):
    data_dir = Path.cwd() / ".buildspace"
    outcome, lines = await run(ws, f"ls /; test -e {Path.cwd()}/pyproject.toml && echo LEAK; "
                             f"test -e {data_dir} && echo LEAK; test -e {tmp_path} && echo LEAK;"
                             " ls /etc; echo x > /usr/pwned || echo readonly")
    assert "LEAK" not in out(lines)
    assert set(out(lines)) >= {"usr", "workspace", "tmp", "readonly"}
    assert "work" not in out(lines) and "root" not in out(lines) and "shadow" not in out(lines)


@pytest.mark.asyncio
async def test_the_environment_is_the_allow_list_only(ws: Workspace, monkeypatch):
    monkeypatch.setenv("BUILDSPACE_S3_SECRET_KEY", "platform-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    outcome, lines = await run(ws, "env")
    env = dict(line.split("=", 1) for line in out(lines))
    assert outcome.ok
    assert not [k for k in env if k.startswith(("BUILDSPACE_", "AWS_"))]
    assert "secret" not in "\n".join(out(lines))
    assert env["HOME"] == "/home/builder" and env["CI"] == "1"
    assert env["NODE_EXTRA_CA_CERTS"] == "/etc/ssl/certs/ca-certificates.crt"


def host_ips() -> list[str]:
    """The host's own addresses other than loopback (e.g. its eth0 address)."""
    local = host_addresses(Path("/proc/net/fib_trie").read_text())
    return [str(a) for a in local if not a.is_loopback]


@pytest.mark.parametrize("network", [False, True])
@pytest.mark.asyncio
async def test_services_on_the_host_are_unreachable(ws: Workspace, network: bool):
    """Neither on its loopback nor on its other addresses (a service bound to 0.0.0.0)."""
    targets = ["127.0.0.1", "10.0.2.2", *host_ips()]
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        probe = (f"for (const h of {targets!r}) {{"
                 f" const s = require('net').connect({port}, h);"
                 " s.setTimeout(3000, () => { console.log(h, 'timeout'); s.destroy(); });"
                 " s.on('connect', () => { console.log(h, 'CONNECTED'); s.destroy(); });"
                 " s.on('error', e => console.log(h, e.code)); }")
        outcome, lines = await run(ws, f"cat /proc/net/dev; node -e \"{probe}\"", network=network)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert outcome.ok, lines
    assert ("tap0" in "\n".join(out(lines))) is network
    assert len([x for x in out(lines) if x.split(" ")[0] in targets]) == len(targets)
    assert not [x for x in out(lines) if "CONNECTED" in x]


@pytest.mark.asyncio
async def test_exit_codes_and_both_streams_are_reported_line_by_line(ws: Workspace):
    outcome, lines = await run(ws, "echo one; echo two >&2; printf 'no newline'; exit 3")
    assert (outcome.exit_code, outcome.ok, outcome.reason) == (3, False, "exited with code 3")
    assert (out(lines), out(lines, "stderr")) == (["one", "no newline"], ["two"])


@pytest.mark.asyncio
async def test_long_lines_are_split_and_bad_utf8_is_replaced(ws: Workspace):
    outcome, lines = await run(
        ws, "head -c 36000 /dev/zero | tr '\\0' a; echo; printf 'x\\377y\\n'")
    assert outcome.ok
    assert [len(t) for t in out(lines)[:3]] == [16384, 16384, 3232]
    assert out(lines)[3] == "x\ufffdy"


def pids_cgroup(pid: int) -> Path:
    line = next(x for x in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
                if x.split(":")[1] == "pids")
    return ROOT / "pids" / line.split(":", 2)[2].lstrip("/")


@pytest.mark.asyncio
async def test_a_timeout_kills_the_whole_tree(ws: Workspace):
    marker = f"300.{uuid.uuid4().int % 10**9}"  # a unique sleep, findable in /proc
    groups: set[Path] = set()

    async def on_line(stream: str, text: str) -> None:
        """On "started", wait (with a deadline) until all three sleeps run, then note
        their cgroups (of those that run, at the deadline)."""
        seen: list[list[int]] = []

        def all_three() -> bool:
            seen.append(processes_with(marker))
            return len(seen[-1]) >= 3
        with contextlib.suppress(AssertionError):  # the assertions below judge them
            await eventually_async(all_three, 10, what="all three sleeps run", interval=0.01)
        groups.update(pids_cgroup(pid) for pid in seen[-1])

    command = f"sleep {marker} & (setsid sleep {marker} &); sleep {marker} & echo started; wait"
    outcome = await sandbox.run(ws, command, cwd="", network=False,
                                limits=Limits(1.5, 256, 64, 1.0), on_line=on_line)
    assert outcome.timed_out and outcome.exit_code is None and not outcome.ok
    assert outcome.reason == "timed out after 1.5 s"
    assert processes_with(marker) == []
    if (ROOT / "pids").is_dir():
        assert len(groups) == 1 and PARENT in str(next(iter(groups)))
        assert not next(iter(groups)).exists()


@pytest.mark.asyncio
async def test_memory_is_limited(ws: Workspace):
    if not (ROOT / "memory").is_dir() and not (ROOT / "cgroup.controllers").exists():
        pytest.skip("this host has no cgroup memory controller: build memory limits "
                    "cannot be enforced here")
    hog = ("head -c 400M /dev/zero | tail -c 1 > /dev/null; "
           "node -e 'const a = []; for (;;) a.push(Buffer.alloc(1 << 24, 1))'")
    outcome, _ = await run(ws, hog, limits=Limits(30, 64, 64, 1.0))
    assert outcome.out_of_memory and not outcome.ok
    assert outcome.reason == "out of memory: limit 64 MiB"


@pytest.mark.asyncio
async def test_processes_are_limited(ws: Workspace):
    marker = f"300.{uuid.uuid4().int % 10**9}"
    outcome, _ = await run(ws, f"for i in $(seq 40); do sleep {marker} & done; wait",
                           limits=Limits(30, 256, 16, 1.0))
    assert not outcome.ok and outcome.exceeded == "pids" and outcome.exit_code is None
    assert outcome.reason == "process limit exceeded: limit 16 processes"
    assert processes_with(marker) == []


@pytest.mark.asyncio
async def test_disk_is_limited_and_the_host_keeps_its_space(tmp_path: Path):
    limited = Workspace.create(UID, UID, disk_mb=32)
    try:
        assert limited.disk is not None and limited.disk.limit_mb == 32
        limited.src.mkdir()
        limited.hand_over()
        outcome, lines = await run(limited, "head -c 10G /dev/zero > /tmp/fill; echo survived",
                                   limits=Limits(60, 256, 64, 1.0))
        assert outcome.exceeded == "disk" and not outcome.ok, lines
        assert outcome.reason == "disk limit exceeded: limit 32 MiB"
        assert limited.disk.used_mb() <= 32
    finally:
        limited.remove()
    assert not limited.root.exists()
    assert not [line for line in Path("/proc/self/mounts").read_text().splitlines()
                if str(limited.root) in line]
