"""Consumers keep reading a partition of many record batches on the embedded broker
(Tansu on rclone's S3), thanks to the adaptive fetch wait of ``streams.app``.

On S3 each batch is an object and a fetch lists the partition's folder: the broker's
read grows with the partition, and a fetch whose read outlasts its wait comes back
empty, every time. With a small base wait (5 ms) a couple of thousand single-record
batches are enough to show it (a fixed 5 ms wait stalls from about 1,000 batches; the
platform's 100 ms from about 4,000, which takes longer to fill). No timing asserted:
each check is "read everything" or "read nothing" within a generous bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.settings import Settings
from streams import app as streams_app
from streams.app import AdaptiveFetchWait, faust_app
from tests.support.kafka import topic_size
from tests.support.services import broker, object_store

TOPIC = "fetch-wait"
BATCHES = 2000
BASE_MS = 5
TAIL = 50  # how far from the end the readers start


async def _fill(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(BATCHES):  # one at a time: each its own batch (and S3 object)
            await producer.send_and_wait(TOPIC, b"%d" % n)
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A broker with one partition of ``BATCHES`` single-record batches."""
    root = tmp_path_factory.mktemp("fetch-wait")
    with object_store(root, "fetchwait", topic_partitions=1) as base, \
            broker(base, root / "logs") as settings:
        asyncio.run(_fill(settings.kafka_bootstrap))
        yield settings


async def _read(bootstrap: str, start: int, want: int, within: float,
                adaptive: bool) -> tuple[int, AdaptiveFetchWait | None]:
    """How many records a consumer with a ``BASE_MS`` wait reads from ``start`` (up to
    ``want``, giving up after ``within`` seconds)."""
    tp = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=BASE_MS)
    await consumer.start()
    try:
        wait = AdaptiveFetchWait(consumer._fetcher, BASE_MS) if adaptive else None
        consumer.assign([tp])
        consumer.seek(tp, start)
        got, deadline = 0, time.monotonic() + within
        while got < want and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            got += sum(len(records) for records in batches.values())
        return got, wait
    finally:
        await consumer.stop()


def test_a_fixed_short_wait_reads_nothing_from_a_large_partition(settings: Settings) -> None:
    """The broker behaviour the adaptive wait answers: records wait, fetches come back
    empty."""
    got, _ = asyncio.run(_read(settings.kafka_bootstrap, BATCHES - TAIL, TAIL, 3.0,
                               adaptive=False))
    assert got == 0


def test_the_adaptive_wait_reads_to_the_end(settings: Settings) -> None:
    got, wait = asyncio.run(_read(settings.kafka_bootstrap, BATCHES - TAIL, TAIL, 60.0,
                                  adaptive=True))
    assert got == TAIL
    assert wait is not None and wait.ms > BASE_MS  # it had to grow to get there


async def _commit(settings: Settings, group: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC, 0)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _run_agent(settings: Settings, end: int) -> tuple[int, Any]:
    """A Faust agent on the platform's transport, its group ``TAIL`` records from the
    end: how far it got (the next offset), and its consumer's fetch wait."""
    app = faust_app(settings)
    await _commit(settings, app.conf.id, end - TAIL)
    topic = app.topic(TOPIC, key_serializer="raw", value_serializer="raw", partitions=1)
    reached = asyncio.Event()
    position = 0

    @app.agent(topic)
    async def follow(stream: faust.StreamT) -> None:
        nonlocal position
        async for event in stream.events():
            position = event.message.offset + 1
            if position >= end:
                reached.set()

    await app.start()
    try:
        # Bounded only so a regression fails instead of hanging.
        await asyncio.wait_for(reached.wait(), 90)
    except TimeoutError:
        pass
    finally:
        wait = app.consumer._thread.fetch_wait  # type: ignore[attr-defined]
        await app.stop()
    return position, wait


def test_faust_agents_read_to_the_end(settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The platform's own consumer (``bskafka://``), with its base wait lowered to the
    one a partition of ``BATCHES`` defeats."""
    monkeypatch.setattr(streams_app, "FETCH_MAX_WAIT_MS", BASE_MS)
    end = topic_size(settings.kafka_bootstrap, TOPIC)
    position, wait = asyncio.run(_run_agent(settings, end))
    assert position == end
    assert isinstance(wait, AdaptiveFetchWait)
    assert wait.ms > BASE_MS
