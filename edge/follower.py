"""Follow the compacted routes topic into a ``RouteTable``.

No consumer group: every edge instance reads every partition from the beginning, so it
rebuilds the whole table at start, then follows live. ``ready`` is set once the
follower has caught up with the end offsets it saw at start.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from edge.routes import RouteTable
from infra.connections import kafka_options
from infra.kafka import topic_partitions
from infra.settings import Settings

log = logging.getLogger(__name__)


class RouteFollower:
    """Keeps ``table`` equal to the routes topic: ``start()``, then ``wait_ready()``."""

    def __init__(
        self, settings: Settings, table: RouteTable, *, topic_wait: float | None = None
    ) -> None:
        self.settings = settings
        self.table = table
        self.topic_wait = topic_wait
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        """Connect, assign every partition of the topic, and start following."""
        self._consumer, partitions = await self._connect()
        try:
            self._consumer.assign(partitions)
            await self._consumer.seek_to_beginning(*partitions)
            targets = await self._consumer.end_offsets(partitions)
        except BaseException:
            await self._consumer.stop()
            raise
        self.task = asyncio.create_task(self._follow(targets), name="edge-route-follower")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def wait_ready(self) -> None:
        """Return once caught up; raise what the follower died of, if it did."""
        assert self.task is not None, "start() first"
        ready = asyncio.ensure_future(self.ready.wait())
        await asyncio.wait({ready, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            self.task.result()
            raise RuntimeError("route follower stopped before it was ready")

    async def _connect(self) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
        """A started consumer and the topic's partitions, once the topic exists."""
        partitions = await self._wait_for_topic()
        consumer = AIOKafkaConsumer(
            **kafka_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        return consumer, partitions

    async def _wait_for_topic(self) -> list[TopicPartition]:
        topic = self.settings.topic_routes
        deadline = None if self.topic_wait is None else time.monotonic() + self.topic_wait
        for attempt in itertools.count():
            partitions = await topic_partitions(self.settings, topic)
            if partitions:
                return partitions
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic!r} does not exist")
            if attempt % 20 == 0:
                log.info("waiting for topic %s to exist", topic)
            await asyncio.sleep(0.5)  # metadata poll interval
        raise AssertionError("unreachable")

    async def _follow(self, targets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        pending = dict(targets)
        while True:
            if not self.ready.is_set():
                pending = await self._still_behind(pending)
                if not pending:
                    log.info("route table loaded: %d hosts", len(self.table))
                    self.ready.set()
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self._apply(record)

    async def _still_behind(
        self, targets: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        assert self._consumer is not None
        behind = {}
        for tp, end in targets.items():
            if await self._consumer.position(tp) < end:
                behind[tp] = end
        return behind

    def _apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        if record.key is None:
            log.warning("skipping route record without key at %s", where)
            return
        try:
            self.table.apply(record.key.decode("utf-8"), record.value)
        except ValueError as exc:  # UnicodeDecodeError and ValidationError too
            log.warning("skipping malformed route record at %s: %s", where, exc)
