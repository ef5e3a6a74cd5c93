"""Helpers for the builder tests: read a build's events back from Kafka, find stray
processes, mounts and cgroups, make build specs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from builder.cgroups import PARENT, ROOT
from infra.kafka import topic_partitions
from infra.settings import Settings
from schemas.builds import BuildSettings, BuildSpec
from schemas.envelope import new_id
from tests.support.waiting import eventually_async

TERMINAL = ("DeploymentReady", "DeploymentFailed")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

STATIC_BUILD_JS = """
const fs = require('fs');
fs.mkdirSync('dist/assets', { recursive: true });
fs.writeFileSync('dist/index.html', '<h1>built</h1>');
fs.writeFileSync('dist/assets/app.js', 'console.log("app")');
console.log('wrote dist');
"""


def node_site(build: str = "node build.js", **extra: str) -> dict[str, str]:
    """A package.json with no dependencies (npm install needs no registry) and a build."""
    package = {"name": "site", "version": "1.0.0", "private": True, "scripts": {"build": build}}
    return {"package.json": json.dumps(package), "build.js": STATIC_BUILD_JS, **extra}


def make_spec(git_url: str, ref: str = "main", **settings: Any) -> BuildSpec:
    return BuildSpec(project_id=f"prj_{new_id()[:8]}", deployment_id=f"dpl_{new_id()[:12]}",
                     git_url=git_url, ref=ref, settings=BuildSettings(**settings),
                     correlation_id=f"corr_{new_id()[:8]}")


@dataclass
class BuildRecord:
    """What a build published: its control events and its log lines, in order."""

    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [line for message in self.messages for line in message.get("lines", [])]

    @property
    def heartbeats(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "BuildHeartbeat"]

    @property
    def system(self) -> list[str]:
        return [line["line"] for line in self.lines if line["stream"] == "system"]

    @property
    def text(self) -> str:
        return "\n".join(line["line"] for line in self.lines)

    @property
    def outcome(self) -> dict[str, Any]:
        return self.events[-1]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


async def _consumer(settings: Settings, topic: str) -> tuple[AIOKafkaConsumer, list[Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    parts = await topic_partitions(settings, topic)
    consumer.assign(parts)
    return consumer, parts


def _mine(batch: dict[Any, Any], deployment_id: str) -> list[dict[str, Any]]:
    values = (orjson.loads(r.value) for records in batch.values() for r in records)
    return [v for v in values if v.get("deployment_id") == deployment_id]


async def wait_outcome(settings: Settings, deployment_id: str, timeout: float = 60
                       ) -> list[dict[str, Any]]:
    """The deployment's control events, up to and including its outcome."""
    consumer, _ = await _consumer(settings, settings.topic_events)
    found: list[dict[str, Any]] = []

    async def outcome() -> bool:
        found.extend(_mine(await consumer.getmany(timeout_ms=200), deployment_id))
        return bool(found) and found[-1]["type"] in TERMINAL
    try:
        await eventually_async(outcome, timeout, what=f"an outcome for {deployment_id}",
                               interval=0)
    except AssertionError:
        raise AssertionError(f"no outcome for {deployment_id} within {timeout} s: {found}"
                             ) from None
    finally:
        await consumer.stop()
    return found


async def read_log_records(settings: Settings, deployment_id: str
                           ) -> list[tuple[bytes, dict[str, Any]]]:
    """(key, message) of every log message of the deployment on the logs topic now."""
    consumer, parts = await _consumer(settings, settings.topic_logs)
    found: list[tuple[bytes, dict[str, Any]]] = []
    try:
        ends = await consumer.end_offsets(parts)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batch = await consumer.getmany(timeout_ms=200)
            records = [(r.key, orjson.loads(r.value)) for rs in batch.values() for r in rs]
            found += [(k, v) for k, v in records if v.get("deployment_id") == deployment_id]
    finally:
        await consumer.stop()
    return found


async def read_logs(settings: Settings, deployment_id: str) -> list[dict[str, Any]]:
    """Every log message of the deployment on the logs topic now."""
    return [message for _key, message in await read_log_records(settings, deployment_id)]


async def read_build(settings: Settings, deployment_id: str, timeout: float = 60
                     ) -> BuildRecord:
    """Wait for the build's outcome, then read its log lines (sent before the outcome)."""
    events = await wait_outcome(settings, deployment_id, timeout)
    return BuildRecord(events, await read_logs(settings, deployment_id))


def processes_with(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def workspace_of(pid: int) -> Path:
    """The work directory of the sandboxed process ``pid``, from its bwrap's arguments."""
    while pid > 1:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if args[0].endswith("bwrap"):
            return Path(args[args.index("/workspace") - 1]).parent
        pid = _parent(pid)
    raise AssertionError("not a sandboxed process")


def fixture_files(name: str) -> dict[str, bytes]:
    """The files of ``tests/fixtures/<name>``, for a test repository."""
    root = FIXTURES / name
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def processes_of(uid: int) -> list[int]:
    """Pids of live processes whose real or effective uid is ``uid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields.get("Uid", "").split()[:2]
        if entry.name.isdigit() and str(uid) in uids and "Z" not in fields.get("State", ""):
            found.append(int(entry.name))
    return found


def cgroups_named(fragment: str) -> list[Path]:
    """Build cgroups (any hierarchy) whose name contains ``fragment``."""
    parents = [*ROOT.glob(f"*/{PARENT}"), ROOT / PARENT]
    return [d for parent in parents if parent.is_dir() for d in parent.iterdir()
            if d.is_dir() and fragment in d.name]


def mounts_named(fragment: str) -> list[str]:
    return [line for line in Path("/proc/self/mounts").read_text().splitlines()
            if fragment in line]
