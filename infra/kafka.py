"""Kafka: topic creation and the event log writer every role appends through."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel

from infra import actors
from infra.connections import kafka_options
from infra.settings import Settings
from schemas.envelope import dumps
from schemas.errors import Unavailable

log = logging.getLogger("buildspace.kafka")
APPEND_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


DAY_MS = 86_400_000
# The routes topic is small: with Kafka's defaults (segments of 1 GiB or 7 days, cleaned
# once half the log is dirty) it would be one segment, the active one, which is never
# compacted, so it would hold every change for a week. Hourly segments and a low dirty
# ratio keep what an edge reads at start close to one record per hostname; a tombstone
# stays a day, far longer than an edge takes to read the topic, so none misses a removal.
ROUTES_COMPACTION = {"cleanup.policy": "compact", "segment.ms": str(3_600_000),
                     "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": str(DAY_MS)}


def _kept(days: int) -> dict[str, str]:
    """Retention deletes whole segments once their newest record is ``days`` old, never
    the one being written: daily segments (not Kafka's 7 days) keep it within a day."""
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS),
            "segment.ms": str(DAY_MS)}


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Each topic's configuration at creation: the events are kept for ever (the source
    of truth), the routes compacted, everything else for the days its setting says."""
    dead_letters = _kept(settings.dlq_retention_days)
    return {
        settings.topic_events: {"cleanup.policy": "delete", "retention.ms": "-1"},
        settings.topic_logs: _kept(settings.log_retention_days),
        settings.topic_commands: _kept(settings.command_retention_days),
        settings.topic_routes: ROUTES_COMPACTION,
        settings.topic_requests: _kept(settings.request_retention_days),
        f"{settings.topic_events}.dlq": dead_letters,
        f"{settings.topic_logs}.dlq": dead_letters,
        f"{settings.topic_commands}.dlq": dead_letters,
        f"{settings.topic_requests}.dlq": dead_letters,
    }


async def ensure_topics(settings: Settings, groups: Sequence[str] = ()) -> None:
    """Create every topic the platform uses (idempotent), and wait (bounded) until their
    partitions have leaders and ``groups`` have a coordinator: on a new broker, clients
    that start before that log errors while they retry."""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name, settings.topic_partitions, 1, topic_configs=config)
            for name, config in topic_configs(settings).items() if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
        await _until(lambda: _led(admin, list(topic_configs(settings))), "topic leaders")
        for group in groups:
            await _until(functools.partial(_coordinated, admin, group),
                         f"a coordinator for {group}")
    finally:
        await admin.close()


async def _led(admin: AIOKafkaAdminClient, names: list[str]) -> bool:
    described = await admin.describe_topics(names)
    return len(described) == len(names) and all(
        t["error_code"] == 0 and all(p["leader"] >= 0 for p in t["partitions"])
        for t in described)


async def _coordinated(admin: AIOKafkaAdminClient, group: str) -> bool:
    try:
        await admin.find_coordinator(group)
    except KafkaError:
        return False
    return True


async def _until(ready: Callable[[], Awaitable[bool]], what: str,
                 timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not await ready():
        if time.monotonic() > deadline:
            log.warning("Kafka: no %s after %.0f s; the clients will keep trying", what,
                        timeout)
            return
        await asyncio.sleep(0.1)


async def topic_partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, none while it does not exist. (A client learns only
    the topics it asks the broker about, so a consumer that assigns partitions itself
    asks here first.)"""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"])
                  for t in described if t["topic"] == topic and t["error_code"] == 0
                  for p in t["partitions"])


class EventLog:
    """Appends events to Kafka and reports where each landed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer = AIOKafkaProducer(
            **kafka_options(settings), acks="all", linger_ms=0, enable_idempotence=True,
            request_timeout_ms=15000,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def append(self, topic: str, key: str, event: BaseModel | None) -> Position:
        value = None if event is None else dumps(event)
        try:
            # An idempotent producer retries a sent batch until the broker answers,
            # whatever request_timeout_ms says: the caller gets an answer in bounded time.
            meta = await asyncio.wait_for(
                self._producer.send_and_wait(topic, value, key=key.encode(),
                                             headers=[actors.header()]), APPEND_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable(f"Kafka did not acknowledge the append to {topic} within "
                              f"{APPEND_TIMEOUT_S:.0f} s; it may still be appended") from None
        except KafkaError as exc:
            raise Unavailable(f"could not append to {topic}: {type(exc).__name__}") from None
        return Position(meta.topic, meta.partition, meta.offset)

    async def append_batch(self, records: Sequence[tuple[str, bytes | None, bytes | None,
                                                     list[tuple[str, bytes]]]]
                           ) -> list[Position]:
        """Append ``(topic, key, value, headers)`` records in order (the idempotent
        producer keeps a partition's order across retries); where each landed."""
        try:
            sent = [await self._producer.send(topic, value, key=key, headers=headers)
                    for topic, key, value, headers in records]
            metas = await asyncio.wait_for(asyncio.gather(*sent), APPEND_TIMEOUT_S)
        except TimeoutError:
            raise Unavailable(f"Kafka did not acknowledge {len(records)} appends within "
                              f"{APPEND_TIMEOUT_S:.0f} s; they may still be appended") from None
        except KafkaError as exc:
            raise Unavailable(f"could not append: {type(exc).__name__}") from None
        return [Position(m.topic, m.partition, m.offset) for m in metas]

    async def append_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key)
