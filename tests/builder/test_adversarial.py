"""Hostile repositories (tests/fixtures/adversarial/) through the real pipeline: git
server, bubblewrap sandbox, cgroups, limited disk, slirp + filter, Kafka and rclone.

Each must fail safely with its reason in words, or succeed harmlessly, and leave the
host as it was: no process of the sandbox uid, no cgroup, mount or loop device of the
build, no platform credential in the log or the artifacts, nothing of the host in the
artifacts, and the broker and the object store still serving.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.bwrap import sandbox_env
from builder.netfilter import host_addresses
from infra.settings import Settings
from schemas.artifacts import blob_key
from schemas.builds import BuildSpec
from tests.builder.support import (
    BuildRecord,
    cgroups_named,
    fixture_files,
    make_spec,
    mounts_named,
    processes_of,
    processes_with,
)
from tests.builder.test_disk import loop_backing_files
from tests.builder.test_pipeline import build, manifest, no_manifest
from tests.support.gitserver import GitServer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox tests run as root")
# A uid of this test session alone, so other builds on the machine do not count.
UID = 64500 + os.getpid() % 400
PLANTED = {
    "DATABASE_URL": "postgresql://adversary:db-secret-a7f3@127.0.0.1:5432/buildspace",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-k2j9x",
    "AWS_SESSION_TOKEN": "aws-session-token-m3n8",
    "BUILDSPACE_GRANT_SECRET": "grant-secret-p8q1z",
}
PROJECT = Path(__file__).resolve().parents[2]
HOST_MARKERS = (str(PROJECT), Path("/etc/passwd").read_text().splitlines()[0],
                'name = "buildspace"')


@pytest.fixture
def hostile(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Settings]:
    """Small limits, a uid of our own, and credentials planted in the builder's
    environment for the build to find."""
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    yield settings.model_copy(update={
        "build_timeout_seconds": 30, "build_memory_mb": 256, "build_pids": 64,
        "build_disk_mb": 64, "build_output_mb": 8, "sandbox_uid": UID, "sandbox_gid": UID,
        "cache_dir": tmp_path / "cache"})


def credentials(settings: Settings) -> list[str]:
    """Every platform credential: the S3 secret and any BUILDSPACE_/AWS_ value (but not
    one the sandbox is given anyway, such as the CA bundle's path)."""
    values = [settings.s3_secret_key.get_secret_value(), *PLANTED.values()]
    values += [v for k, v in os.environ.items() if k.startswith(("BUILDSPACE_", "AWS_"))]
    public = set(sandbox_env().values())
    return [v for v in values if len(v) >= 6 and v not in public]


def artifacts(s3: Any, settings: Settings, record: BuildRecord, spec: BuildSpec
              ) -> dict[str, bytes]:
    if record.outcome["type"] != "DeploymentReady":
        assert no_manifest(s3, settings, spec.deployment_id)
        return {}
    files = manifest(s3, settings, spec.deployment_id).files
    return {path: s3.get_object(Bucket=settings.artifacts_bucket,
                                Key=blob_key(entry.sha256))["Body"].read()
            for path, entry in files.items()}


def found(body: bytes) -> str:
    """What a hostile build published, without the headers it writes itself (which name
    the paths it tried)."""
    lines = body.decode(errors="replace").splitlines()
    return "\n".join(line for line in lines if not line.startswith("== "))


def assert_host_unharmed(s3: Any, settings: Settings, spec: BuildSpec, record: BuildRecord
                         ) -> dict[str, bytes]:
    """Everything the build touched is gone, nothing secret or of the host got out, and
    the platform's services still answer. Returns the published files."""
    label = spec.deployment_id
    assert processes_of(UID) == []
    assert cgroups_named(label) == [] and mounts_named(label) == []
    assert not [f for f in loop_backing_files() if label in f]
    assert not list(Path("/tmp").glob(f"buildspace-build-{label}-*"))
    published = artifacts(s3, settings, record, spec)
    leaked = [c for c in credentials(settings) if c in record.text or
              any(c.encode() in body for body in published.values())]
    assert leaked == []
    host = [m for m in HOST_MARKERS for body in published.values() if m in found(body)]
    assert host == []
    assert s3.list_buckets()["Buckets"]  # the object store still serves
    return published


async def hostile_build(settings: Settings, git_server: GitServer, name: str,
                        extra: dict[str, str] | None = None, **build_settings: Any
                        ) -> tuple[BuildSpec, BuildRecord]:
    files: dict[str, bytes | str] = {**fixture_files(f"adversarial/{name}"), **(extra or {})}
    url = git_server.make_repo(f"adversarial-{name}-{uuid.uuid4().hex[:8]}", files)
    spec = make_spec(url, **build_settings)
    return spec, await build(settings, spec)


@pytest.mark.asyncio
async def test_hunting_for_credentials_finds_none(hostile, git_server, s3):
    spec, record = await hostile_build(hostile, git_server, "env-snoop")
    assert record.outcome["type"] == "DeploymentReady", record.text
    published = assert_host_unharmed(s3, hostile, spec, record)
    loot = published["loot.txt"].decode()
    assert "== install: own environment ==" in loot and "== /proc/1/environ ==" in loot
    assert '"HOME":"/home/builder"' in loot  # it did read its environment: the allow-list


@pytest.mark.asyncio
async def test_probing_the_hosts_services_reaches_none(hostile, git_server, s3):
    kafka_port = int((hostile.kafka_bootstrap or "").rsplit(":", 1)[1])
    s3_port = int((hostile.s3_endpoint or "").rsplit(":", 1)[1])
    local = [str(a) for a in host_addresses(Path("/proc/net/fib_trie").read_text())
             if not a.is_loopback]
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        targets = ["127.0.0.1:5432", f"127.0.0.1:{kafka_port}", f"127.0.0.1:{s3_port}",
                   f"10.0.2.2:{kafka_port}", "169.254.169.254:80", "10.0.2.2:5432",
                   *(f"{ip}:{p}" for ip in local for p in (port, kafka_port, 5432))]
        spec, record = await hostile_build(hostile, git_server, "net-probe",
                                           {"targets.json": json.dumps(targets)})
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert record.outcome["type"] == "DeploymentReady", record.text
    results = assert_host_unharmed(s3, hostile, spec, record)["results.txt"].decode()
    assert len(results.splitlines()) == 2 * len(targets)
    assert "CONNECTED" not in results


@pytest.mark.asyncio
async def test_a_fork_bomb_is_stopped_at_the_process_limit(hostile, git_server, s3):
    spec, record = await hostile_build(hostile, git_server, "fork-bomb")
    assert record.outcome["reason"] == "build failed: process limit exceeded: limit 64 processes"
    assert_host_unharmed(s3, hostile, spec, record)


@pytest.mark.asyncio
async def test_allocating_without_end_is_stopped_at_the_memory_limit(hostile, git_server, s3):
    spec, record = await hostile_build(hostile, git_server, "memory-hog")
    assert record.outcome["reason"] == "build failed: out of memory: limit 256 MiB"
    assert_host_unharmed(s3, hostile, spec, record)


@pytest.mark.parametrize("target", ["checkout", "tmp", "cache"])
@pytest.mark.asyncio
async def test_writing_10_gib_is_stopped_at_the_disk_limit(hostile, git_server, s3, target: str):
    spec, record = await hostile_build(hostile, git_server, "disk-filler", {"target.txt": target})
    assert record.outcome["reason"] == "build failed: disk limit exceeded: limit 64 MiB"
    assert_host_unharmed(s3, hostile, spec, record)
    cache = Path(hostile.cache_dir or "") / spec.project_id
    assert sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) < 1 << 20


@pytest.mark.parametrize(("mode", "reason"), [
    ("symlink", "passwd: a symlink is not allowed in the output"),
    ("fifo", "pipe: a FIFO is not allowed in the output"),
    ("hardlink", "hard links are not allowed in the output")])
@pytest.mark.asyncio
async def test_links_and_fifos_in_the_output_are_refused(hostile, git_server, s3, mode, reason):
    spec, record = await hostile_build(hostile, git_server, "bad-output", {"mode.txt": mode})
    assert record.outcome["type"] == "DeploymentFailed"
    assert reason in record.outcome["reason"]
    assert_host_unharmed(s3, hostile, spec, record)


@pytest.mark.asyncio
async def test_a_daemon_does_not_outlive_the_build(hostile, git_server, s3):
    marker = f"300.{uuid.uuid4().int % 10**9}"
    spec, record = await hostile_build(hostile, git_server, "daemon", {"marker.txt": marker})
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert record.text.splitlines().count("daemon started") == 2  # in install and build
    assert processes_with(marker) == []
    assert_host_unharmed(s3, hostile, spec, record)


@pytest.mark.asyncio
async def test_sleeping_past_the_timeout_is_stopped(hostile, git_server, s3):
    marker = f"300.{uuid.uuid4().int % 10**9}"
    quick = hostile.model_copy(update={"build_timeout_seconds": 3})
    spec, record = await hostile_build(quick, git_server, "sleeper", {"marker.txt": marker})
    assert record.outcome["reason"] == "install timed out after 3 s"
    assert processes_with(marker) == []
    assert_host_unharmed(s3, quick, spec, record)
