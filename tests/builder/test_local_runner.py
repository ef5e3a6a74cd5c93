"""The local runner and ``python -m builder.run``: real builder processes, real services."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from builder.local_runner import LocalRunner, builder_environment
from builder.pipeline import CANCELED
from infra.settings import Settings
from tests.builder.support import (
    cgroups_named,
    make_spec,
    node_site,
    processes_with,
    read_logs,
    wait_outcome,
    workspace_of,
)
from tests.support.gitserver import GitServer
from tests.support.waiting import eventually_async

PROJECT = Path(__file__).resolve().parents[2]


async def wait_for_line(settings: Settings, deployment_id: str, text: str,
                        timeout: float = 30) -> None:
    async def logged() -> bool:
        messages = await read_logs(settings, deployment_id)
        return any(line["line"] == text for m in messages for line in m.get("lines", []))
    await eventually_async(logged, timeout, what=f"{text!r} in the log of {deployment_id}")


def slow_site(marker: str) -> dict[str, str]:
    return node_site(f"echo started-{marker}; sleep {marker}")


def unique_sleep() -> str:
    """A sleep duration no other process has: it marks the build's processes in /proc."""
    return f"300.{uuid.uuid4().int % 10**9}"


def test_the_builder_gets_only_the_settings_it_needs(settings: Settings, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("BUILDSPACE_DATABASE_URL", "postgresql://secret@db/x")
    env = builder_environment(settings.model_copy(update={"database_url": "postgresql://x"}))
    assert env["BUILDSPACE_KAFKA_BOOTSTRAP"] == settings.kafka_bootstrap
    assert env["BUILDSPACE_S3_SECRET_KEY"] == settings.s3_secret_key.get_secret_value()
    assert env["BUILDSPACE_TOPIC_LOGS"] == settings.topic_logs
    assert env["BUILDSPACE_RUNNER"] == "local"
    assert not [k for k in env if "DATABASE" in k or k.startswith("AWS_")]
    assert "secret@db" not in str(env)


@pytest.mark.asyncio
async def test_a_launched_build_publishes_its_outcome(settings: Settings, git_server: GitServer):
    spec = make_spec(git_server.make_repo("runner-static", {"index.html": "<p>hi</p>"}))

    runner = LocalRunner(settings)
    try:
        ref = await runner.launch(spec)
        assert await runner.launch(spec) == ref  # a replayed launch starts nothing new
        events = await wait_outcome(settings, spec.deployment_id)
    finally:
        await runner.close()
    assert ref.startswith("pid:")
    assert [e["type"] for e in events] == ["BuildStarted", "BuildPlanned", "DeploymentReady"]


@pytest.mark.asyncio
async def test_cancel_stops_the_sandbox_and_reports_the_build_failed(settings, git_server):
    marker = unique_sleep()
    spec = make_spec(git_server.make_repo("runner-cancel", slow_site(marker)))
    workspaces: list[Path] = []

    runner = LocalRunner(settings)
    try:
        await runner.launch(spec)
        await wait_for_line(settings, spec.deployment_id, f"started-{marker}")
        workspaces.extend(workspace_of(pid) for pid in processes_with(marker))
        canceling = asyncio.create_task(runner.cancel(spec.deployment_id))  # SIGTERM
        await eventually_async(lambda: not processes_with(marker),
                               what="every process of the sandbox gone after SIGTERM")
        await canceling
        assert runner.running() == []
        events = await wait_outcome(settings, spec.deployment_id)
    finally:
        await runner.close()
    assert events[-1]["type"] == "DeploymentFailed" and events[-1]["reason"] == CANCELED
    assert workspaces and not [w for w in workspaces if w.exists()]
    assert cgroups_named(spec.deployment_id) == []


@pytest.mark.asyncio
async def test_close_stops_every_running_build(settings, git_server):
    marker = unique_sleep()
    url = git_server.make_repo("runner-close", slow_site(marker))
    specs = [make_spec(url) for _ in range(2)]  # both report at once

    runner = LocalRunner(settings)
    try:
        for spec in specs:
            await runner.launch(spec)
        for spec in specs:
            await wait_for_line(settings, spec.deployment_id, f"started-{marker}")
    finally:
        await runner.close()
    assert runner.running() == []
    outcomes = [await wait_outcome(settings, s.deployment_id) for s in specs]
    assert [events[-1]["reason"] for events in outcomes] == [CANCELED, CANCELED]
    assert processes_with(marker) == []


@pytest.mark.asyncio
async def test_python_m_builder_run_takes_the_spec_from_the_environment(settings, git_server):
    spec = make_spec(git_server.make_repo("runner-env", {"index.html": "<p>env</p>"}))
    env = builder_environment(settings) | {"BUILDSPACE_BUILD_SPEC": spec.model_dump_json()}
    done = subprocess.run([sys.executable, "-m", "builder.run"], env=env, cwd=PROJECT,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    events = await wait_outcome(settings, spec.deployment_id)
    assert events[-1]["type"] == "DeploymentReady"


def test_an_invalid_spec_is_refused(settings):
    done = subprocess.run([sys.executable, "-m", "builder.run"], input=b'{"project_id": 1}',
                          env=builder_environment(settings), cwd=PROJECT,
                          capture_output=True, timeout=60)
    assert done.returncode == 2 and b"invalid build spec" in done.stderr
    assert os.environ.get("BUILDSPACE_BUILD_SPEC") is None
