"""Read a range of a topic again, without a consumer group: what a replay of the read
models reads (``projections.replay``). The partitions are assigned by hand and nothing
is committed, so the live consumers are not disturbed.

Each partition comes in order; partitions are interleaved by record time (then
partition number): close to the order the live agents saw them in, and the same on
every read.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from infra.connections import kafka_options
from infra.kafka import Position, topic_partitions
from infra.settings import Settings
from schemas.errors import Unavailable

FETCH_MS = 200
FETCH_RECORDS = 1000
STALL_S = 30.0

Offsets = Mapping[int, int]  # partition -> offset


@dataclass(frozen=True)
class Record:
    position: Position
    timestamp: int  # ms, as the producer set it
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


class TopicReader:
    """``start()``, then ``read()`` ranges as often as needed, then ``stop()``."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.partitions: list[int] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> list[int]:
        """Connect; the topic's partitions."""
        try:
            found = await topic_partitions(self.settings, self.topic)
            self._consumer = AIOKafkaConsumer(
                **kafka_options(self.settings), group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", fetch_max_wait_ms=FETCH_MS)
            await self._consumer.start()
        except KafkaError as exc:
            raise Unavailable(f"cannot read {self.topic}: {type(exc).__name__}") from None
        self.partitions = [tp.partition for tp in found]
        return self.partitions

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def read(self, after: Offsets, upto: Offsets) -> AsyncIterator[Record]:
        """The records of each partition ``p`` after offset ``after[p]`` (-1 when
        absent) up to ``upto[p]`` included."""
        assert self._consumer is not None, "start() first"
        wanted = {p: stop for p, stop in upto.items() if stop > after.get(p, -1)}
        if not wanted:
            return
        tps = {p: TopicPartition(self.topic, p) for p in wanted}
        self._consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            self._consumer.seek(tp, after.get(p, -1) + 1)
        buffers: dict[int, deque[ConsumerRecord[bytes, bytes]]] = {p: deque() for p in wanted}
        heads: list[tuple[int, int]] = []
        for p in wanted:
            await self._fill(tps[p], buffers[p], wanted[p])
            self._push(heads, buffers[p], p)
        while heads:
            _, p = heapq.heappop(heads)
            record = buffers[p].popleft()
            yield Record(Position(record.topic, record.partition, record.offset),
                         record.timestamp, record.value, tuple(record.headers or ()))
            if record.offset < wanted[p]:
                await self._fill(tps[p], buffers[p], wanted[p])
            self._push(heads, buffers[p], p)

    @staticmethod
    def _push(heads: list[tuple[int, int]], buffer: deque[ConsumerRecord[bytes, bytes]],
              p: int) -> None:
        if buffer:
            heapq.heappush(heads, (buffer[0].timestamp, p))

    async def _fill(self, tp: TopicPartition, buffer: deque[ConsumerRecord[bytes, bytes]],
                    stop: int) -> None:
        """Fetch more of ``tp`` when its buffer is empty (nothing past ``stop``)."""
        assert self._consumer is not None
        deadline = time.monotonic() + STALL_S
        while not buffer:
            try:
                got = await self._consumer.getmany(tp, timeout_ms=FETCH_MS,
                                                   max_records=FETCH_RECORDS)
            except KafkaError as exc:
                raise Unavailable(f"cannot read {tp.topic}: {type(exc).__name__}") from None
            records = got.get(tp, [])
            buffer.extend(r for r in records if r.offset <= stop)
            if records and records[-1].offset >= stop:
                return  # the range is read (its end may be a gap)
            if not records and time.monotonic() > deadline:
                raise Unavailable(f"{tp.topic} partition {tp.partition} returned nothing "
                                  f"for {STALL_S:.0f} s before offset {stop}")
