"""Reading and writing the platform's topics from tests. The coroutines serve async tests;
``topic_size``, ``produce`` and ``find_event`` serve sync ones (through ``run_sync``)."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.kafka import topic_partitions
from infra.settings import Settings
from tests.support.sync import run_sync
from tests.support.waiting import eventually_async


async def partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic`` on the broker at ``bootstrap``."""
    return await topic_partitions(Settings(kafka_bootstrap=bootstrap), topic)


async def end_offsets(bootstrap: str, topic: str) -> int:
    """How many records ``topic`` holds (sum of end offsets)."""
    parts = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


def topic_size(bootstrap: str, topic: str) -> int:
    """How many records ``topic`` holds (sum of end offsets)."""
    return run_sync(end_offsets(bootstrap, topic))


async def send(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Put one record on ``topic``, acknowledged by every replica."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    run_sync(send(bootstrap, topic, value, key))


def json_of(value: bytes | None) -> Any:
    """A record's JSON; None for a tombstone or a record that is not JSON (a dead
    letter's test puts garbage on a topic on purpose)."""
    try:
        return orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None


async def first_event(bootstrap: str, topic: str, match: Any,
                      timeout: float = 30) -> dict[str, Any]:
    """The first event on ``topic`` for which ``match(event)`` is true."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()

    async def next_match() -> dict[str, Any] | None:
        batch = await consumer.getmany(timeout_ms=200)  # waits for records itself
        for records in batch.values():
            for record in records:
                event = json_of(record.value)
                if event is not None and match(event):
                    return event  # type: ignore[no-any-return]
        return None
    try:
        found: dict[str, Any] = await eventually_async(
            next_match, timeout, what=f"a matching event on {topic}", interval=0)
        return found
    finally:
        await consumer.stop()


def find_event(bootstrap: str, topic: str, match: Any, timeout: float = 30) -> dict[str, Any]:
    """The first event on ``topic`` for which ``match(event)`` is true."""
    return run_sync(first_event(bootstrap, topic, match, timeout))


async def all_records(bootstrap: str, topic: str, timeout: float = 30) -> list[dict[str, Any]]:
    """Every record ``topic`` holds now."""
    parts = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: list[dict[str, Any]] = []

        async def read_to_end() -> bool:
            if not [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                return True
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(v for rs in batch.values() for r in rs
                           if (v := json_of(r.value)) is not None)
            return False
        await eventually_async(read_to_end, timeout, what=f"{topic} read to its end", interval=0)
        return records
    finally:
        await consumer.stop()
