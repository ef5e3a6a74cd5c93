"""A canceled build is stopped by the worker that runs it, whichever worker projects the
cancellation (real PostgreSQL: NOTIFY between workers, and the sweep when a notice is
missed). The runners here record what they are asked to stop; that a runner's stop
kills the sandbox is tested in tests/builder and tests/e2e."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace
from typing import Any

import pytest

from commands.deployments.decide import decide
from commands.projects.decide import ProjectState, evolve
from infra.compose.migrate import migrate
from infra.db import open_pool
from infra.kafka import Position
from infra.secrets import EnvCipher
from infra.settings import Settings
from projections import control_plane
from projections.tracking import apply_once
from schemas.builds import BuildSpec
from schemas.commands import CreateProject, RequestDeployment
from schemas.envelope import Envelope, Meta
from schemas.events import DeploymentCanceled, DeploymentReady, DeploymentRequested
from streams.scheduler import NAME, Scheduler
from tests.support.platform import fresh_database
from tests.support.projection import applying
from tests.support.waiting import eventually_async


class RecordingRunner:
    name = "local"

    def __init__(self, *running: str) -> None:
        self.ids = list(running)
        self.asked: list[str] = []  # every cancel, of a build running here or not
        self.stopped: list[str] = []

    def running(self) -> list[str]:
        return [i for i in self.ids if i not in self.stopped]

    async def launch(self, spec: BuildSpec) -> str:
        raise AssertionError("nothing is queued in these tests")

    async def cancel(self, deployment_id: str) -> None:
        self.asked.append(deployment_id)
        if deployment_id in self.ids:
            self.stopped.append(deployment_id)

    async def close(self) -> None:
        pass


class Worker:
    """One worker's scheduler on the shared database."""

    def __init__(self, pool: Any, settings: Settings, runner: RecordingRunner) -> None:
        self.runner = runner
        deps = SimpleNamespace(settings=settings, pool=pool, runner=runner, events=None)
        self.scheduler = Scheduler(deps, EnvCipher(base64.urlsafe_b64encode(os.urandom(32))))

    async def project(self, event: Envelope, offset: int) -> None:
        pos = Position("buildspace.events", 0, offset)
        await apply_once(self.scheduler.deps.pool, NAME, pos,
                         lambda conn: self.scheduler.apply(conn, event))
        await self.scheduler.after_commit()


def running_builds(count: int) -> tuple[list[Envelope], list[str]]:
    """A project and ``count`` deployments of it (events), and their ids."""
    state, events = ProjectState(project_id="p1"), []
    cmds: list[CreateProject | RequestDeployment] = [
        CreateProject(name="site", git_url="https://github.com/a/b")]
    cmds += [RequestDeployment(project_id="p1", ref=f"b{n}") for n in range(count)]
    for cmd in cmds:
        for event in decide(state, cmd, Meta()):
            state = evolve(state, event)
            events.append(event)
    return events, [e.deployment_id for e in events if isinstance(e, DeploymentRequested)]


async def start(dsn: str, count: int) -> tuple[Any, Settings, list[str]]:
    """The project's deployments projected, queued and claimed as running."""
    settings = Settings(database_url=dsn)
    pool = await open_pool(settings)
    await migrate(pool)
    events, ids = running_builds(count)
    worker = Worker(pool, settings, RecordingRunner())
    for offset, event in enumerate(events):
        await apply_once(pool, control_plane.NAME, Position("buildspace.events", 0, offset),
                         applying(control_plane.apply, event))
        await apply_once(pool, NAME, Position("buildspace.events", 0, offset),
                         applying(worker.scheduler.apply, event))
    await pool.execute("UPDATE build_queue SET state = 'running'")
    return pool, settings, ids


def cancel(deployment_id: str) -> DeploymentCanceled:
    return DeploymentCanceled(stream_id="p1", project_id="p1", deployment_id=deployment_id,
                              reason="canceled by a user")


@pytest.mark.asyncio
async def test_a_cancel_projected_by_one_worker_stops_the_build_in_another():
    with fresh_database() as dsn:
        pool, settings, (mine, other) = await start(dsn, 2)
        projecting = Worker(pool, settings, RecordingRunner())
        launching = Worker(pool, settings, RecordingRunner(mine, other))
        bystander = Worker(pool, settings, RecordingRunner())
        try:
            for worker in (projecting, launching, bystander):
                await worker.scheduler.listen()
            await projecting.project(cancel(mine), 100)
            # Every worker takes the notice (the projecting one has asked its own runner too).
            await eventually_async(
                lambda: [w.runner.asked.count(mine) for w in (projecting, launching, bystander)]
                == [2, 1, 1], what="the stop notice taken by every worker")
            assert launching.runner.stopped == [mine]  # only the canceled build
            assert projecting.runner.stopped == bystander.runner.stopped == []
        finally:
            for worker in (projecting, launching, bystander):
                await worker.scheduler.close()
            await pool.close()


@pytest.mark.asyncio
async def test_the_sweep_stops_canceled_builds_a_worker_missed_and_nothing_else():
    with fresh_database() as dsn:
        pool, settings, (canceled, finished, running) = await start(dsn, 3)
        projecting = Worker(pool, settings, RecordingRunner())
        deaf = Worker(pool, settings, RecordingRunner(canceled, finished, running))
        try:
            ready = DeploymentReady(stream_id="p1", project_id="p1", deployment_id=finished,
                                    commit_sha="a" * 40, file_count=1, total_bytes=1,
                                    uploaded_blobs=1, install_ms=1, build_ms=1)
            for offset, event in enumerate((cancel(canceled), ready), start=100):
                await apply_once(pool, control_plane.NAME, Position("buildspace.events", 0,
                                                                    offset),
                                 applying(control_plane.apply, event))
                await projecting.project(event, offset)
            assert deaf.runner.stopped == []  # it does not listen
            await deaf.scheduler.sweep()
            # A build that reported READY may still be finishing: it is left alone.
            assert deaf.runner.stopped == [canceled]
        finally:
            await projecting.scheduler.close()
            await pool.close()
