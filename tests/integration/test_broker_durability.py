"""Durability on the real embedded broker (Apache Kafka in KRaft mode), no mocks: what an
acknowledged append and a committed offset are worth when producers race on one
partition, and when the broker is killed with SIGKILL and restarted on the same data dir
and port.

A record is identified by ``<producer>:<seq>``; the tests compare what was acknowledged
with what the partition holds, offset by offset.

Run: .venv/bin/pytest tests/integration/test_broker_durability.py
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from infra.broker import KafkaBroker
from infra.compose.migrate import migrate
from infra.connections import kafka_options
from infra.db import open_pool
from infra.kafka import EventLog, Position
from infra.settings import Settings
from projections.tracking import apply_once
from schemas.envelope import dumps, new_id
from streams.app import faust_app
from tests.support.platform import fresh_database
from tests.support.waiting import eventually_async

PRODUCERS, RECORDS = 4, 500
TOTAL = PRODUCERS * RECORDS


class Probe(BaseModel):
    record_id: str


def record_id(producer: int, seq: int) -> str:
    return f"{producer}:{seq}"


def probe(producer: int, seq: int) -> bytes:
    return dumps(Probe(record_id=record_id(producer, seq)))


def id_of(record: ConsumerRecord[Any, Any]) -> str:
    return Probe.model_validate_json(record.value).record_id


async def create_topic(bootstrap: str) -> str:
    name = f"durability.{new_id()[:12]}"
    admin = AIOKafkaAdminClient(**kafka_options(Settings(kafka_bootstrap=bootstrap)))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()
    return name


async def drain(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int
                ) -> list[ConsumerRecord[Any, Any]]:
    """Everything ``consumer`` reads from ``tp`` until its position reaches ``end``."""
    records: list[ConsumerRecord[Any, Any]] = []

    async def caught_up() -> bool:
        for batch in (await consumer.getmany(timeout_ms=200)).values():
            records.extend(batch)
        # A group member has no partition until it has joined the group.
        return tp in consumer.assignment() and await consumer.position(tp) >= end

    await eventually_async(caught_up, what=f"{tp} read up to offset {end}")
    return records


async def read_partition(bootstrap: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """The whole of partition 0, from offset 0 to its end."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        return await drain(consumer, tp, end)
    finally:
        await consumer.stop()


def group_member(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                            enable_auto_commit=False, auto_offset_reset="earliest")


def assert_in_producer_order(log: list[ConsumerRecord[Any, Any]]) -> None:
    """Each producer's records, first occurrences taken in log order, are 0..RECORDS-1."""
    firsts: dict[int, list[int]] = {p: [] for p in range(PRODUCERS)}
    for rid in dict.fromkeys(id_of(r) for r in log):
        producer, seq = map(int, rid.split(":"))
        firsts[producer].append(seq)
    assert firsts == {p: list(range(RECORDS)) for p in range(PRODUCERS)}


# 1. Concurrent producers on one partition -------------------------------------------


async def send_with_aiokafka(bootstrap: str, topic: str, producer_no: int) -> dict[str, int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:  # all 500 queued before any ack is awaited: the producer batches them
        futures = [await producer.send(topic, probe(producer_no, seq), key=b"%d" % producer_no)
                   for seq in range(RECORDS)]
        acks = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return {record_id(producer_no, seq): ack.offset for seq, ack in enumerate(acks)}


async def send_with_event_log(bootstrap: str, topic: str, producer_no: int) -> dict[str, int]:
    events = EventLog(Settings(kafka_bootstrap=bootstrap))
    await events.start()
    try:
        acked = {}
        for seq in range(RECORDS):
            event = Probe(record_id=record_id(producer_no, seq))
            acked[event.record_id] = (await events.append(topic, str(producer_no), event)).offset
    finally:
        await events.stop()
    return acked


@pytest.mark.parametrize("send", [send_with_aiokafka, send_with_event_log],
                         ids=["aiokafka", "event_log"])
@pytest.mark.asyncio
async def test_concurrent_producers_on_one_partition_lose_and_duplicate_nothing(
        kafka_bootstrap: str, send: Callable[[str, str, int], Awaitable[dict[str, int]]]
) -> None:
    topic = await create_topic(kafka_bootstrap)
    acks = await asyncio.gather(*(send(kafka_bootstrap, topic, p) for p in range(PRODUCERS)))
    acked = {rid: offset for producer in acks for rid, offset in producer.items()}
    log = await read_partition(kafka_bootstrap, topic)

    assert len(acked) == TOTAL
    assert sorted(id_of(r) for r in log) == sorted(acked)  # each exactly once
    assert [r.offset for r in log] == list(range(TOTAL))
    assert all(id_of(log[offset]) == rid for rid, offset in acked.items())
    assert_in_producer_order(log)


# 2. kill -9 of the broker mid-stream --------------------------------------------------

GATE = 100  # each producer's records before the consumer group commits
COMMITTED, READ_BEFORE_KILL = 300, 400
KILL_AT = 800  # acknowledged records when the broker is killed


@dataclass
class Ledger:
    """What the producers were told: acknowledged offsets, and the records the test had
    to send again because a send failed during the outage."""
    acked: dict[str, int] = field(default_factory=dict)
    resent: set[str] = field(default_factory=set)
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    restarted: asyncio.Event = field(default_factory=asyncio.Event)


async def produce_through_outage(bootstrap: str, topic: str, producer_no: int,
                                 ledger: Ledger) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        for seq in range(RECORDS):
            if seq == GATE:
                await ledger.committed.wait()
            await send_until_acked(producer, topic, producer_no, seq, ledger)
    finally:
        await producer.stop()


async def send_until_acked(producer: AIOKafkaProducer, topic: str, producer_no: int, seq: int,
                           ledger: Ledger) -> None:
    rid = record_id(producer_no, seq)
    for attempt in range(3):
        try:
            ack = await producer.send_and_wait(topic, probe(producer_no, seq))
        except KafkaError:
            if attempt == 2:
                raise
            ledger.resent.add(rid)  # failed during the outage: send it again after it
            await ledger.restarted.wait()
        else:
            ledger.acked[rid] = ack.offset
            return


async def read_and_commit(bootstrap: str, topic: str, group: str) -> int:
    """A group member reads READ_BEFORE_KILL records and commits only COMMITTED of them,
    so that resuming from the commit and resuming from its position differ."""
    tp = TopicPartition(topic, 0)
    consumer = group_member(bootstrap, topic, group)
    await consumer.start()
    try:
        await drain(consumer, tp, READ_BEFORE_KILL)
        await consumer.commit({tp: COMMITTED})
        return await consumer.committed(tp)  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


async def resume(bootstrap: str, topic: str, group: str, end: int
                 ) -> list[ConsumerRecord[Any, Any]]:
    tp = TopicPartition(topic, 0)
    consumer = group_member(bootstrap, topic, group)
    await consumer.start()
    try:
        return await drain(consumer, tp, end)
    finally:
        await consumer.stop()


async def kill_mid_stream(broker: KafkaBroker, ledger: Ledger) -> int:
    """SIGKILL once KILL_AT records are acknowledged, then restart on the same data dir
    and port while the producers keep sending; the acknowledged count at the kill."""
    async def enough_acked() -> bool:
        return len(ledger.acked) >= KILL_AT

    await eventually_async(enough_acked, what=f"{KILL_AT} records acknowledged")
    broker.kill()
    acked_at_kill = len(ledger.acked)
    await asyncio.to_thread(broker.start)  # the producers' sends wait or fail meanwhile
    ledger.restarted.set()
    return acked_at_kill


@pytest.mark.asyncio
async def test_acknowledged_records_and_committed_offsets_survive_kill_9(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka", 0, tmp_path / "logs").start()
    try:
        bootstrap, group = broker.bootstrap, f"durability-{new_id()[:8]}"
        topic, ledger = await create_topic(bootstrap), Ledger()
        producing = asyncio.gather(*(produce_through_outage(bootstrap, topic, p, ledger)
                                     for p in range(PRODUCERS)))
        committed = await read_and_commit(bootstrap, topic, group)
        ledger.committed.set()
        acked_at_kill = await kill_mid_stream(broker, ledger)
        await producing
        log = await read_partition(bootstrap, topic)
        resumed = await resume(bootstrap, topic, group, len(log))

        assert committed == COMMITTED
        assert acked_at_kill < TOTAL == len(ledger.acked)  # the kill was mid-stream
        counts = Counter(id_of(r) for r in log)
        assert set(ledger.acked) <= set(counts)  # every acknowledged record is present
        # The idempotent producer's own retries across the restart add no duplicate; a
        # record the test had to send again may be there twice (Kafka promises no more).
        assert {rid: n for rid, n in counts.items() if n > 1 and rid not in ledger.resent} == {}
        assert [r.offset for r in log] == list(range(len(log)))
        assert all(id_of(log[offset]) == rid for rid, offset in ledger.acked.items())
        assert_in_producer_order(log)
        # The group resumes at its committed offset: nothing before it, nothing skipped.
        assert [r.offset for r in resumed] == list(range(COMMITTED, len(log)))
        assert [id_of(r) for r in resumed] == [id_of(r) for r in log[COMMITTED:]]
    finally:
        broker.stop()


# 3. A Faust agent across kill -9 of the broker ----------------------------------------

FAUST_RECORDS = 600
PROJECTION = "durability_probes"


async def open_probe_store(dsn: str) -> asyncpg.Pool:
    pool = await open_pool(Settings(database_url=dsn))
    await migrate(pool)
    # No unique constraint on purpose: a duplicate must show, not be refused.
    await pool.execute('CREATE TABLE durability_probes (record_id text NOT NULL, '
                       '"offset" bigint NOT NULL)')
    return pool


def project_probes(pool: asyncpg.Pool, delivered: list[str]
                   ) -> Callable[[Any], Awaitable[None]]:
    """The agent: the platform's idempotent projection pattern around one insert."""
    async def project_probes(stream: Any) -> None:
        async for event in stream.events():
            msg, rid = event.message, Probe.model_validate_json(event.value).record_id
            delivered.append(rid)

            async def insert(conn: asyncpg.Connection, rid: str = rid,
                             offset: int = msg.offset) -> None:
                await conn.execute("INSERT INTO durability_probes VALUES ($1, $2)", rid, offset)

            await apply_once(pool, PROJECTION, Position(msg.topic, msg.partition, msg.offset),
                             insert)
    return project_probes


async def rows_reach(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM durability_probes")) >= n


async def group_offset(settings: Settings, group: str, tp: TopicPartition) -> int:
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return offsets[tp].offset if tp in offsets else -1


@pytest.mark.asyncio
async def test_faust_agent_carries_on_after_kill_9_and_projects_each_record_once(
        tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka", 0, tmp_path / "logs")

    async def scenario(dsn: str) -> None:
        settings = Settings(kafka_bootstrap=broker.bootstrap, database_url=dsn,
                            topic_partitions=1)
        topic, pool = await create_topic(broker.bootstrap), await open_probe_store(dsn)
        app, events = faust_app(settings), EventLog(settings)
        delivered: list[str] = []  # every delivery to the agent, redeliveries included
        app.conf.datadir = tmp_path / "faust"  # not ./buildspace-data in the cwd
        source = app.topic(topic, key_serializer="raw", value_serializer="raw", partitions=1)
        app.agent(source, name="project_probes")(project_probes(pool, delivered))
        try:
            await app.start()
            await events.start()

            async def append(seqs: range) -> None:
                for seq in seqs:
                    await events.append(topic, "probe", Probe(record_id=record_id(0, seq)))

            half = FAUST_RECORDS // 2
            await append(range(half))
            await eventually_async(lambda: rows_reach(pool, half // 2), what="the agent under way")
            broker.kill()
            # The second half is appended while the broker is down and coming back.
            await asyncio.gather(asyncio.to_thread(broker.start),
                                 append(range(half, FAUST_RECORDS)))
            await eventually_async(lambda: rows_reach(pool, FAUST_RECORDS),
                                   what="every record projected")
            tp = TopicPartition(topic, 0)

            async def committed_to_end() -> bool:
                return await group_offset(settings, "buildspace", tp) == FAUST_RECORDS

            await eventually_async(committed_to_end, what="Faust's commits reach the end")

            rows = await pool.fetch('SELECT record_id, "offset" FROM durability_probes')
            wanted = [record_id(0, seq) for seq in range(FAUST_RECORDS)]
            assert sorted(r["record_id"] for r in rows) == sorted(wanted)  # exactly once
            assert sorted(r["offset"] for r in rows) == list(range(FAUST_RECORDS))
            assert set(delivered) == set(wanted)  # at least once
            assert await pool.fetchval(
                'SELECT "offset" FROM projection_positions WHERE projection = $1',
                PROJECTION) == FAUST_RECORDS - 1
        finally:
            await events.stop()
            await app.stop()
            await pool.close()

    try:
        with ThreadPoolExecutor(1) as starter:
            started = starter.submit(broker.start)  # while PostgreSQL starts
            with fresh_database() as dsn:
                started.result()
                await scenario(dsn)
    finally:
        broker.stop()
