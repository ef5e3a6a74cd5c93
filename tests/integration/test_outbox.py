"""The transactional outbox against a real broker and PostgreSQL: a rolled-back command
appends nothing; a committed one is appended in order, by one relay at a time, with its
actor; a relay that dies between Kafka's acknowledgement and its own commit appends a
record twice, and a projection applies it once; rows staged while Kafka is away wait
and go out when it is back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from infra import actors, outbox
from infra.compose.migrate import migrate
from infra.db import open_pool
from infra.kafka import EventLog, Position, ensure_topics
from infra.outbox import Relay
from infra.settings import Settings
from projections.tracking import apply_once
from schemas.audit import Actor
from schemas.errors import Unavailable
from schemas.events import TeamSettingsChanged
from tests.support.kafka import all_records
from tests.support.platform import fresh_database

Services = tuple[asyncpg.Pool, EventLog, Settings]


@pytest.fixture
def dsn() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest_asyncio.fixture
async def services(dsn: str, kafka_bootstrap: str) -> AsyncIterator[Services]:
    """A migrated pool and a started event log on a fresh database and events topic."""
    s = Settings(database_url=dsn, kafka_bootstrap=kafka_bootstrap,
                 topic_events=f"outbox-{uuid.uuid4().hex[:8]}")
    await ensure_topics(s)
    pool = await open_pool(s)
    events = EventLog(s)
    await events.start()
    try:
        await migrate(pool)
        yield pool, events, s
    finally:
        await events.stop()
        await pool.close()


def event(n: int, team: str = "t1") -> TeamSettingsChanged:
    return TeamSettingsChanged(stream_id=team, team_id=team, require_2fa=n % 2 == 0)


async def stage(pool: asyncpg.Pool, s: Settings, events: list[TeamSettingsChanged]
                ) -> list[int]:
    async with pool.acquire() as conn, conn.transaction():
        return [await outbox.stage(conn, s.topic_events, e.stream_id, e) for e in events]


async def ids_in(s: Settings) -> list[str]:
    assert s.kafka_bootstrap
    return [r["event_id"] for r in await all_records(s.kafka_bootstrap, s.topic_events, 10)]


@pytest.mark.asyncio
async def test_a_rolled_back_command_appends_nothing_and_a_committed_one_appends_in_order(
        services: Services):
    pool, events, s = services
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.stage(conn, s.topic_events, "t1", event(0))
            raise RuntimeError("the command failed after staging")
    made = [event(n) for n in range(1, 8)]
    with actors.acting(Actor(kind="user", id="u1")):
        staged = await stage(pool, s, made)
    relay = Relay(pool, events)
    await relay.start()
    try:
        landed = await relay.published(staged, timeout=20)
    finally:
        await relay.stop()
    assert [p.offset for p in landed] == sorted(p.offset for p in landed)
    assert len(landed) == 7 and len({p.partition for p in landed}) == 1
    assert await ids_in(s) == [e.event_id for e in made]
    assert s.kafka_bootstrap
    consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(s.topic_events, landed[0].partition)
        consumer.assign([tp])
        consumer.seek(tp, landed[0].offset)
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert actors.from_headers(record.headers) == Actor(kind="user", id="u1")
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


class DiesAfterAppending(EventLog):
    """A relay's producer whose process 'dies' right after Kafka acknowledged the batch:
    the relay's transaction never commits."""

    async def append_batch(self, records: Any) -> list[Position]:
        await super().append_batch(records)
        raise ConnectionResetError("the relay died before its commit")


@pytest.mark.asyncio
async def test_a_relay_that_dies_after_appending_appends_twice_and_projections_apply_once(
        services: Services):
    pool, events, s = services
    made = [event(n) for n in range(3)]
    await stage(pool, s, made)
    dying = DiesAfterAppending(s)
    await dying.start()
    try:
        with pytest.raises(ConnectionResetError):
            await Relay(pool, dying).relay_once()
    finally:
        await dying.stop()
    assert await Relay(pool, events).relay_once() == 3
    appended = await ids_in(s)
    assert appended == [e.event_id for e in made] * 2  # at least once, in order
    applied: list[str] = []

    def projecting(event_id: str) -> Callable[[asyncpg.Connection], Awaitable[None]]:
        async def project(conn: asyncpg.Connection) -> None:
            applied.append(event_id)
        return project
    for offset, event_id in enumerate(appended):
        await apply_once(pool, "probe", Position(s.topic_events, 0, offset),
                         projecting(event_id), event_id)
    assert applied == [e.event_id for e in made]  # exactly once


@pytest.mark.asyncio
async def test_one_relay_at_a_time_appends_each_row_once(services: Services):
    pool, events, s = services
    made = [event(n, team=f"t{n % 3}") for n in range(60)]
    for chunk in range(0, 60, 6):
        await stage(pool, s, made[chunk:chunk + 6])
    relays = [Relay(pool, events) for _ in range(3)]

    async def drain(relay: Relay) -> None:
        for _ in range(40):
            await relay.relay_once()
    await asyncio.gather(*(drain(r) for r in relays))
    appended = await ids_in(s)
    assert sorted(appended) == sorted(e.event_id for e in made)
    for team in ("t0", "t1", "t2"):  # each stream in the order it was staged
        assert [i for i in appended if i in {e.event_id for e in made
                                             if e.stream_id == team}] == [
            e.event_id for e in made if e.stream_id == team]


class RefusesAtFirst(EventLog):
    """A producer that cannot reach Kafka for its first three batches."""

    refused = 0

    async def append_batch(self, records: Any) -> list[Position]:
        if self.refused < 3:
            self.refused += 1
            raise Unavailable("could not append: KafkaConnectionError")
        return await super().append_batch(records)


@pytest.mark.asyncio
async def test_rows_staged_while_kafka_is_away_wait_and_go_out_when_it_is_back(services: Services):
    pool, events, s = services
    made = [event(n) for n in range(2)]
    staged = await stage(pool, s, made)  # the command commits: Kafka is not asked
    refusing = RefusesAtFirst(s)
    await refusing.start()
    relay = Relay(pool, refusing)
    await relay.start()
    try:
        assert len(await relay.published(staged, timeout=20)) == 2
    finally:
        await relay.stop()
        await refusing.stop()
    assert refusing.refused == 3
    assert await ids_in(s) == [e.event_id for e in made]
