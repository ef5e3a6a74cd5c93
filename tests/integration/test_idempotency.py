"""Delivering the same events twice leaves every read model unchanged (real
PostgreSQL and ClickHouse through chdb)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.deployments.decide import decide
from commands.projects.decide import ProjectState, evolve
from infra.compose.migrate import migrate
from infra.db import clickhouse_client, open_pool
from infra.kafka import Position
from infra.settings import Settings
from projections import control_plane, routes
from projections.logs import LogStore
from projections.tracking import apply_once
from schemas.commands import CreateProject, RequestDeployment
from schemas.envelope import Meta
from schemas.events import (
    BuildStarted,
    DeploymentFailed,
    DeploymentReady,
    DeploymentRequested,
)
from schemas.logs import BuildLogAppended, LogLine
from tests.support.platform import fresh_database
from tests.support.projection import applying

TABLES = ["projects", "deployments", "routes", "route_projects", "route_deployments"]


def history() -> list:
    meta = Meta()
    state, events = ProjectState(project_id="p1"), []
    for cmd in (CreateProject(name="site", git_url="https://github.com/a/b"),
                RequestDeployment(project_id="p1"), RequestDeployment(project_id="p1")):
        for event in decide(state, cmd, meta):
            state = evolve(state, event)
            events.append(event)
    d1, d2 = (e.deployment_id for e in events if isinstance(e, DeploymentRequested))
    common: dict[str, Any] = {"stream_id": "p1", "project_id": "p1"}
    ready: dict[str, Any] = {"commit_sha": "a" * 40, "file_count": 2, "total_bytes": 10,
                             "uploaded_blobs": 2, "install_ms": 5, "build_ms": 7}
    return events + [
        BuildStarted(deployment_id=d1, commit_sha="a" * 40, runner="local", **common),
        DeploymentReady(deployment_id=d1, **ready, **common),
        BuildStarted(deployment_id=d2, commit_sha="a" * 40, runner="local", **common),
        DeploymentFailed(deployment_id=d2, reason="build command exited with code 1", **common),
    ]


async def snapshot(pool) -> dict:
    async with pool.acquire() as conn:
        return {t: sorted(map(tuple, await conn.fetch(f"SELECT * FROM {t}"))) for t in TABLES}


async def deliver(pool, events, first_offset: int) -> list:
    published = []
    for offset, event in enumerate(events, start=first_offset):
        pos = Position("buildspace.events", 0, offset)
        await apply_once(pool, control_plane.NAME, pos,
                         applying(control_plane.apply, event))
        _, changed = await apply_once(pool, routes.NAME, pos,
                                      applying(routes.apply, event))
        published += changed or []
    return published


@pytest.mark.asyncio
async def test_redelivered_events_leave_read_models_unchanged():
    with fresh_database() as dsn:
        pool = await open_pool(Settings(database_url=dsn))
        try:
            await migrate(pool)
            events = history()
            published = await deliver(pool, events, 0)
            once = await snapshot(pool)
            label = f"{events[1].deployment_id[:12]}-site"
            assert [r.hostname for r in published] == ["site", label]
            assert await deliver(pool, events, 0) == []  # same offsets: skipped by tracking
            assert await snapshot(pool) == once
            assert await deliver(pool, events, 100) == []  # replayed at new offsets: no-op rows
            assert await snapshot(pool) == once
            statuses = {r[0]: r[4] for r in once["deployments"]}
            assert sorted(statuses.values()) == ["FAILED", "READY"]
        finally:
            await pool.close()


@pytest.mark.asyncio
async def test_redelivered_log_lines_leave_no_duplicates(tmp_path):
    client = clickhouse_client(Settings(clickhouse_dsn=f"chdb://{tmp_path / 'ch'}"))
    store = LogStore(client, 7)
    now = datetime.now(UTC)
    batch = BuildLogAppended(stream_id="d1", project_id="p1", deployment_id="d1", lines=[
        LogLine(seq=i, stream="stdout", ts=now, line=f"line {i}") for i in range(1, 51)])
    await store.insert([batch])
    await store.insert([batch, batch])
    rows = await store.page("d1", 0, 1000)
    assert [r.seq for r in rows] == list(range(1, 51))
    assert [r.seq for r in await store.page("d1", 45, 3)] == [46, 47, 48]
    store.close()
