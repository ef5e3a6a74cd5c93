"""kill -9 of the worker while a build floods its log, then the supervisor's restart:
the deployment reaches a final state, and each of the build's events and log lines is
in the read models exactly once (PostgreSQL and ClickHouse agree with the topics)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import asyncpg
import pytest

from tests.e2e.test_deploy import create, deploy
from tests.e2e.test_logs import printing_site
from tests.e2e.test_supervision import restarted
from tests.support.kafka import all_records
from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually

# Lines as fast as the pipe takes them, then a build that never ends by itself.
FLOOD = ("let i = 0; const t = setInterval(() => { for (let j = 0; j < 50; j++) "
         "console.log('line ' + (++i)); }, 5); setTimeout(() => {}, 600000);")


@pytest.fixture(scope="module")
def crashing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform whose watchdog fails a silent build soon."""
    with running_platform(tmp_path_factory.mktemp("worker-crash"),
                          BUILDSPACE_WATCHDOG_SECONDS="8",
                          BUILDSPACE_HEARTBEAT_SECONDS="1") as running:
        yield running


def stored_lines(platform: Platform, deployment_id: str) -> list[int]:
    seqs: list[int] = []
    with platform.client() as c:
        while True:
            page = c.get(f"/v1/deployments/{deployment_id}/logs",
                         params={"after_seq": seqs[-1] if seqs else 0, "limit": 5000}).json()
            seqs += [line["seq"] for line in page["lines"]]
            if not page["has_more"]:
                return seqs


async def _deployment_rows(dsn: str, deployment_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch("SELECT status, log_lines FROM deployments "
                                "WHERE deployment_id = $1", deployment_id)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_kill_9_of_the_worker_mid_build_loses_and_duplicates_nothing(crashing, git_server):
    platform = crashing
    url = git_server.make_repo("flood-crash", printing_site(FLOOD))
    project = create(platform, "flood-crash", url)
    deployment_id = deploy(platform, project["id"])["id"]
    eventually(lambda: len(stored_lines(platform, deployment_id)) >= 2000, timeout=120)

    [victim] = platform.roles("api worker")
    os.kill(victim, signal.SIGKILL)
    eventually(lambda: restarted(platform, victim), timeout=60)
    platform.wait_api()
    done = platform.wait_status(deployment_id, {"READY", "FAILED", "CANCELED"}, timeout=120)
    assert done["status"] == "FAILED", done  # its build died with its worker

    published = await all_records(platform.kafka, "buildspace.logs")
    sent = sorted(line["seq"] for message in published
                  if message.get("deployment_id") == deployment_id
                  for line in message.get("lines", []))
    assert sent and sent == list(range(1, len(sent) + 1))  # the builder's own numbering
    # Every line the builder got into the topic is stored, once, whatever the worker
    # had or had not projected when it died.
    eventually(lambda: stored_lines(platform, deployment_id) == sent, timeout=60)

    events = [e for e in await all_records(platform.kafka, "buildspace.events")
              if e.get("deployment_id") == deployment_id]
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    types = [e["type"] for e in events]
    assert types.count("DeploymentRequested") == 1 and types.count("DeploymentFailed") == 1
    rows = await _deployment_rows(platform.env["DATABASE_URL"], deployment_id)
    assert [r["status"] for r in rows] == ["FAILED"]
