"""Consumer lag of a consumer group, read from the broker into ``buildspace_consumer_lag``.

Per partition of the group's topics: the end offset minus the group's committed offset
(a partition the group never committed counts from its first offset, where the Faust
app starts reading). Read every few seconds with an admin client and an offsets-only
consumer; the worker runs one for the Faust group (``streams.app``: the app id).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from infra.connections import kafka_options
from infra.metrics import CONSUMER_LAG
from infra.settings import Settings

log = logging.getLogger("buildspace.metrics")


class ConsumerLag:
    """``await start()`` refreshes the lag gauges every ``interval`` s until ``stop()``."""

    def __init__(self, settings: Settings, group: str, topics: list[str],
                 interval: float = 5.0) -> None:
        self.group, self.topics, self.interval = group, topics, interval
        self._admin = AIOKafkaAdminClient(**kafka_options(settings))
        self._offsets = AIOKafkaConsumer(**kafka_options(settings), group_id=None,
                                         enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._admin.start()
        await self._offsets.start()
        self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._offsets.stop()
        await self._admin.close()

    async def refresh(self) -> dict[TopicPartition, int]:
        """Read the lag of every partition now and set the gauges; the figures."""
        lag = await self.lag(await self.partitions())
        for tp, records in lag.items():
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(records)
        return lag

    async def partitions(self) -> list[TopicPartition]:
        described = await self._admin.describe_topics(self.topics)
        return sorted(TopicPartition(t["topic"], p["partition"])
                      for t in described if t["error_code"] == 0 for p in t["partitions"])

    async def lag(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        committed = await self._admin.list_consumer_group_offsets(self.group,
                                                                  partitions=partitions)
        ends = await self._offsets.end_offsets(partitions)
        position = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        never = [tp for tp in partitions if tp not in position]
        if never:
            position |= await self._offsets.beginning_offsets(never)
        return {tp: max(ends[tp] - position[tp], 0) for tp in partitions}

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except KafkaError as exc:  # a figure missed; the worker itself is not affected
                log.warning("consumer lag of %s not read: %r", self.group, exc)
            await asyncio.sleep(self.interval)
