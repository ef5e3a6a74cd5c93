"""The routes projection for custom domains against a real PostgreSQL: a verified
domain serves the production deployment and follows it; removal publishes a
tombstone; delivering the same events again publishes nothing."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from commands.deployments.decide import decide
from commands.domains.decide import add_domain, remove_domain
from commands.domains.decide import verify_domain as verified
from commands.projects.decide import ProjectState, evolve
from infra.compose.migrate import migrate
from infra.db import open_pool
from infra.kafka import Position
from infra.settings import Settings
from projections import control_plane, routes
from projections.tracking import apply_once
from schemas.commands import AddDomain, CreateProject, RemoveDomain, RequestDeployment
from schemas.envelope import Meta
from schemas.events import DeploymentReady
from schemas.routes import Route, RouteRemoved
from tests.support.platform import fresh_database
from tests.support.projection import applying

META = Meta()
TABLES = ["domains", "route_domains", "routes"]


class Stream:
    """One project's events, decided in order like the write side does."""

    def __init__(self, project_id: str, name: str) -> None:
        self.state = ProjectState(project_id=project_id)
        self.events: list = []
        self.take(decide(self.state, CreateProject(name=name, git_url="https://github.com/a/b"),
                         META))

    def take(self, events: list) -> list:
        for event in events:
            self.state = evolve(self.state, event)
        self.events += events
        return events

    def deploy(self) -> str:
        pid = self.state.project_id
        [requested] = self.take(decide(self.state, RequestDeployment(project_id=pid), META))
        self.take([DeploymentReady(
            stream_id=pid, project_id=pid, deployment_id=requested.deployment_id,
            commit_sha="a" * 40, file_count=1, total_bytes=1, uploaded_blobs=1, install_ms=0,
            build_ms=0)])
        return requested.deployment_id

    def add(self, hostname: str, verify: bool = True) -> None:
        cmd = AddDomain(project_id=self.state.project_id, hostname=hostname)
        self.take(add_domain(self.state, cmd, "tok", False, META))
        if verify:
            self.take(verified(self.state, hostname, "dns", META))

    def remove(self, hostname: str) -> None:
        self.take(remove_domain(self.state, RemoveDomain(
            project_id=self.state.project_id, hostname=hostname), META))


class Projection:
    def __init__(self, pool) -> None:
        self.pool = pool
        self.offset = 0

    async def deliver(self, events: list, offset: int | None = None) -> list:
        self.offset = self.offset if offset is None else offset
        published = []
        for event in events:
            pos = Position("buildspace.events", 0, self.offset)
            self.offset += 1
            await apply_once(self.pool, control_plane.NAME, pos,
                             applying(control_plane.apply, event))
            _, changed = await apply_once(self.pool, routes.NAME, pos,
                                          applying(routes.apply, event))
            published += changed or []
        return published

    async def snapshot(self) -> dict:
        async with self.pool.acquire() as conn:
            return {t: sorted(map(tuple, await conn.fetch(f"SELECT * FROM {t}")))
                    for t in TABLES}


def served(published: list) -> dict[str, str | None]:
    return {c.hostname: c.deployment_id if isinstance(c, Route) else None for c in published}


@pytest_asyncio.fixture
async def projection() -> AsyncIterator[Projection]:
    """The projections over a migrated pool on a fresh database."""
    with fresh_database() as dsn:
        pool = await open_pool(Settings(database_url=dsn))
        try:
            await migrate(pool)
            yield Projection(pool)
        finally:
            await pool.close()


@pytest.mark.asyncio
async def test_a_verified_domain_follows_production_and_is_tombstoned_on_removal(
        projection: Projection):
    site = Stream("p1", "site")
    site.add("early.example.test")
    assert await projection.deliver(site.events) == []  # nothing to serve yet
    mark = len(site.events)
    d1 = site.deploy()
    first = served(await projection.deliver(site.events[mark:]))
    assert first["site"] == first["early.example.test"] == d1

    mark = len(site.events)
    site.add("late.example.test")  # verified while production exists: served at once
    site.add("pending.example.test", verify=False)
    assert served(await projection.deliver(site.events[mark:])) == {
        "late.example.test": d1}

    mark = len(site.events)
    d2 = site.deploy()
    second = served(await projection.deliver(site.events[mark:]))
    assert {h: second[h] for h in ("site", "early.example.test", "late.example.test")} \
        == dict.fromkeys(("site", "early.example.test", "late.example.test"), d2)
    assert "pending.example.test" not in second

    mark = len(site.events)
    site.remove("early.example.test")
    site.remove("pending.example.test")
    removed = await projection.deliver(site.events[mark:])
    assert removed == [RouteRemoved(hostname="early.example.test")]

    once = await projection.snapshot()
    assert await projection.deliver(site.events, offset=mark) == []  # same offsets
    assert await projection.deliver(site.events, offset=1000) == []  # replayed anew
    assert await projection.snapshot() == once
    live = [(r[2], r[4]) for r in once["domains"] if r[7] is None]  # not removed
    assert live == [("late.example.test", True)]


@pytest.mark.asyncio
async def test_a_domain_moving_between_projects_ends_at_the_project_that_holds_it(
        projection: Projection):
    old, new = Stream("p1", "old"), Stream("p2", "new")
    old.deploy()
    old.add("www.example.test")
    d_new = new.deploy()
    await projection.deliver(old.events + new.events)
    # p1 removes it and p2 adds it; p2's events are projected first (other partition)
    old.remove("www.example.test")
    mark = len(new.events)
    new.add("www.example.test")
    assert served(await projection.deliver(new.events[mark:])) == {
        "www.example.test": d_new}
    assert await projection.deliver(old.events[-1:]) == []  # no tombstone: p2 holds it


@pytest.mark.asyncio
async def test_a_removal_hands_the_hostname_to_the_other_live_claim(projection: Projection):
    old, new = Stream("p1", "old"), Stream("p2", "new")
    old.deploy()
    old.add("www.example.test")
    d_new = new.deploy()
    await projection.deliver(old.events + new.events)
    mark_old, mark_new = len(old.events), len(new.events)
    d_old = old.deploy()  # p1's READY, before its removal in p1's stream ...
    old.remove("www.example.test")
    new.add("www.example.test")
    await projection.deliver(new.events[mark_new:])
    # ... projected after p2 took the hostname: p1 takes it back, then hands it on
    ready = served(await projection.deliver(old.events[mark_old:-1]))
    assert ready["www.example.test"] == d_old
    assert served(await projection.deliver(old.events[-1:])) == {
        "www.example.test": d_new}
