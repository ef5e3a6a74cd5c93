"""Live build logs: one Kafka reader per API process follows ``buildspace.logs`` and
``buildspace.events`` from their end and hands each deployment's new lines and status
changes to whoever is watching it (SSE, WebSocket, Socket.IO) within milliseconds.

It reads without a consumer group (every API process sees everything), with one
connection per log partition (a slow partition never holds up another) and a fetch
wait as short as the broker allows. On the embedded broker (Tansu on S3) a fetch at
the end of a partition costs time in proportion to the record batches the partition
holds, and a fetch whose read outlasts its wait comes back empty, every time: a fixed
5 ms wait stopped the live view for good once a partition held ~300 batches. So the
wait adapts: doubled when a fetch comes back empty while the partition has more
(``highwater`` beyond our position), eased back while records flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from pydantic import ValidationError

from infra.settings import Settings
from schemas.logs import BuildLogAppended, LogLine

log = logging.getLogger("buildspace.live")

FETCH_MAX_WAIT_MS = 5  # the shortest wait; see FetchWait
MAX_FETCH_WAIT_MS = 1000
EVENTS_FETCH_WAIT_MS = 10
IDLE_FETCH_WAIT_MS = 250  # a log partition nobody watches: spare the broker the polling
STATUS_BY_TYPE = {"BuildStarted": "BUILDING", "DeploymentReady": "READY",
                  "DeploymentFailed": "FAILED", "DeploymentCanceled": "CANCELED"}


@dataclass(frozen=True)
class StatusChange:
    status: str
    reason: str | None
    log_lines: int | None

    @property
    def final(self) -> bool:
        return self.status in ("READY", "FAILED", "CANCELED")


Item = list[LogLine] | StatusChange
LinesHook = Callable[[BuildLogAppended], Any]


class LiveLogs:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._watchers: dict[str, set[asyncio.Queue[Item]]] = defaultdict(set)
        self._hooks: list[tuple[LinesHook, Callable[[], bool]]] = []
        self._readers: list[Reader] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        s = self.settings
        readers = [Reader(s, [TopicPartition(s.topic_logs, p)], FETCH_MAX_WAIT_MS,
                          self._watched_partitions)
                   for p in range(s.topic_partitions)]
        readers.append(Reader(s, [TopicPartition(s.topic_events, p)
                                  for p in range(s.topic_partitions)], EVENTS_FETCH_WAIT_MS))
        self._readers = readers
        await asyncio.gather(*(reader.start() for reader in readers))
        self._task = asyncio.create_task(self._follow(), name="live-logs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(reader.stop() for reader in self._readers))

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None, "start() first"
        return self._task

    def on_lines(self, hook: LinesHook, active: Callable[[], bool]) -> None:
        """Call ``hook`` with every log batch while ``active()`` says someone listens
        (project-wide subscribers); batches nobody watches are not even parsed."""
        self._hooks.append((hook, active))

    def _watched_partitions(self) -> set[int]:
        """The log partitions someone waits on (all of them for project-wide hooks)."""
        n = self.settings.topic_partitions
        if any(active() for _, active in self._hooks):
            return set(range(n))
        return {partition_of(deployment_id, n) for deployment_id in self._watchers}

    @contextlib.contextmanager
    def watch(self, deployment_id: str) -> Iterator[asyncio.Queue[Item]]:
        queue: asyncio.Queue[Item] = asyncio.Queue()
        self._watchers[deployment_id].add(queue)
        try:
            yield queue
        finally:
            self._watchers[deployment_id].discard(queue)
            if not self._watchers[deployment_id]:
                del self._watchers[deployment_id]

    async def _follow(self) -> None:
        """One task per reader; the first to fail ends them all (and this task)."""
        async with asyncio.TaskGroup() as group:
            for reader in self._readers:
                group.create_task(reader.follow(self._dispatch))

    def _dispatch(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if not value:
            return
        try:
            if topic == self.settings.topic_logs:
                self._lines(key, value)
            else:
                self._status(value)
        except (ValidationError, ValueError) as exc:
            log.debug("skipping a message the live view cannot read: %s", exc)

    def _lines(self, key: bytes | None, value: bytes) -> None:
        watched = key is not None and key.decode(errors="replace") in self._watchers
        hooks = [hook for hook, active in self._hooks if active()]
        if not watched and not hooks:
            return
        data = orjson.loads(value)
        if data.get("type") != "BuildLogAppended":
            return
        batch = BuildLogAppended.model_validate(data)
        for queue in self._watchers.get(batch.deployment_id, ()):
            queue.put_nowait(batch.lines)
        for hook in hooks:
            hook(batch)

    def _status(self, value: bytes) -> None:
        data = orjson.loads(value)
        status = STATUS_BY_TYPE.get(data.get("type"))
        queues = self._watchers.get(data.get("deployment_id", ""), ())
        if status is None or not queues:
            return
        change = StatusChange(status, data.get("reason"), data.get("log_lines"))
        for queue in queues:
            queue.put_nowait(change)


def partition_of(deployment_id: str, partitions: int) -> int:
    """The partition a deployment's lines go to (aiokafka's default partitioner)."""
    return (murmur2(deployment_id.encode()) & 0x7FFFFFFF) % partitions


class FetchWait:
    """A reader's fetch wait (ms): doubled when the broker gave up on a fetch, eased
    back by ``EASE`` per fetch that brought records, never below ``low``."""

    EASE = 0.995

    def __init__(self, low: int, high: int = MAX_FETCH_WAIT_MS) -> None:
        self.low, self.high = low, high
        self.ms = float(low)

    def stalled(self) -> None:
        self.ms = min(self.high, self.ms * 2)

    def progressed(self) -> None:
        self.ms = max(self.low, self.ms * self.EASE)


Dispatch = Callable[[str, bytes | None, bytes | None], None]


class Reader:
    """Follows some partitions from their end on a connection of its own."""

    def __init__(self, settings: Settings, parts: list[TopicPartition], wait_ms: int,
                 watched: Callable[[], set[int]] | None = None) -> None:
        self.parts = parts
        self.wait = FetchWait(wait_ms)
        self._wait_ms = wait_ms
        self._watched = watched
        self._wanted = True
        self._was_behind = False
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=None,
            enable_auto_commit=False, fetch_max_wait_ms=wait_ms, auto_offset_reset="latest")

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(self.parts)
        await self.consumer.seek_to_end(*self.parts)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def follow(self, dispatch: Dispatch) -> None:
        while True:
            timeout = int(2 * self.wait.ms) + 100
            batches = await self.consumer.getmany(timeout_ms=timeout, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    dispatch(tp.topic, record.key, record.value)
            await self._adapt(bool(batches))

    async def _adapt(self, fetched: bool) -> None:
        """Longer waits only when records that were there before the fetch did not
        come (a record landing during a fetch may come back empty-handed and be
        counted in the highwater: that is no stall)."""
        behind = await self._behind()
        if fetched:
            self.wait.progressed()
        elif behind and self._was_behind:
            self.wait.stalled()
            log.info("live reader %s behind: fetch wait now %.0f ms", self.parts[0],
                     self.wait.ms)
        self._was_behind = behind
        wanted = self._watched is None or self.parts[0].partition in self._watched()
        if wanted != self._wanted:  # start over from the shortest wait of the new kind
            self._wanted = wanted
            self.wait = FetchWait(self._wait_ms if wanted else IDLE_FETCH_WAIT_MS)
        # aiokafka has no public setter; the next fetch request reads this.
        self.consumer._fetcher._fetch_max_wait_ms = int(self.wait.ms)

    async def _behind(self) -> bool:
        for tp in self.parts:
            highwater = self.consumer.highwater(tp)
            if highwater is not None and highwater > await self.consumer.position(tp):
                return True
        return False
