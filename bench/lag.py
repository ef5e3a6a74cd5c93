"""A consumer group's lag on a topic, read as Kafka tools read it: the group's committed
offsets (``AIOKafkaAdminClient.list_consumer_group_offsets``) against the partitions'
end offsets (a group-less consumer's ``end_offsets``). Used by ``bench/logs.py``."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[TopicPartition, int]


@dataclass(frozen=True)
class Sample:
    """The group's committed offsets and the end offsets, ``at`` seconds into a run."""

    at: float
    committed: Offsets
    end: Offsets

    @property
    def messages_behind(self) -> int:
        return sum(max(0, end - self.committed[tp]) for tp, end in self.end.items())

    def caught_up_with(self, target: Offsets) -> bool:
        return all(self.committed[tp] >= offset for tp, offset in target.items())


class GroupLag:
    """``async with GroupLag(bootstrap, group, topic) as lag: await lag.sample(t)``."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        self.group, self.topic = group, topic
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                          enable_auto_commit=False)
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> GroupLag:
        await self._admin.start()
        await self._consumer.start()
        described = await self._admin.describe_topics([self.topic])
        self.partitions = sorted(TopicPartition(self.topic, p["partition"])
                                 for t in described if t["topic"] == self.topic
                                 for p in t["partitions"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def end(self) -> Offsets:
        ends = await self._consumer.end_offsets(self.partitions)
        return {tp: ends[tp] for tp in self.partitions}

    async def committed(self) -> Offsets:
        """The group's committed offset per partition; where it has committed none, the
        partition's first offset (where the Faust app starts reading)."""
        got = await self._admin.list_consumer_group_offsets(self.group,
                                                            partitions=self.partitions)
        position = {tp: got[tp].offset for tp in self.partitions
                    if tp in got and got[tp].offset >= 0}
        never = [tp for tp in self.partitions if tp not in position]
        if never:
            position |= await self._consumer.beginning_offsets(never)
        return {tp: position[tp] for tp in self.partitions}

    async def sample(self, at: float) -> Sample:
        return Sample(at, await self.committed(), await self.end())
