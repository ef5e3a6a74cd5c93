"""Live build logs: one Kafka reader per API process follows ``buildspace.logs`` and
``buildspace.events`` from their end and hands each deployment's new lines and status
changes to whoever is watching it (SSE, WebSocket, Socket.IO) within milliseconds.

It reads without a consumer group (every API process sees everything): one reader for
the log partitions and one for the events. Kafka answers a fetch as soon as a record
arrives (``fetch.min.bytes`` is 1), so the fetch wait only bounds an idle poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2
from pydantic import ValidationError

from infra.connections import kafka_options
from infra.settings import Settings
from schemas.logs import BuildLogAppended, LogLine, parse_log_message

log = logging.getLogger("buildspace.live")

FETCH_MAX_WAIT_MS = 500
RECENT_FINALS = 10_000  # final statuses remembered (a few hundred KB)
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
        self._finals: OrderedDict[str, StatusChange] = OrderedDict()

    def recent_final(self, deployment_id: str) -> StatusChange | None:
        """The final status this reader saw for the deployment lately, if any: a watcher
        that arrives between that event and its projection learns it here."""
        return self._finals.get(deployment_id)

    async def start(self) -> None:
        s = self.settings
        self._readers = [Reader(s, [TopicPartition(topic, p)
                                    for p in range(s.topic_partitions)])
                         for topic in (s.topic_logs, s.topic_events)]
        await asyncio.gather(*(reader.start() for reader in self._readers))
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
        batch = parse_log_message(value)
        if not isinstance(batch, BuildLogAppended):
            return
        for queue in self._watchers.get(batch.deployment_id, ()):
            queue.put_nowait(batch.lines)
        for hook in hooks:
            hook(batch)

    def _status(self, value: bytes) -> None:
        data = orjson.loads(value)
        status = STATUS_BY_TYPE.get(data.get("type"))
        if status is None:
            return
        deployment_id = data.get("deployment_id", "")
        change = StatusChange(status, data.get("reason"), data.get("log_lines"))
        if change.final:
            self._finals[deployment_id] = change
            while len(self._finals) > RECENT_FINALS:
                self._finals.popitem(last=False)
        for queue in self._watchers.get(deployment_id, ()):
            queue.put_nowait(change)


def partition_of(deployment_id: str, partitions: int) -> int:
    """The partition a deployment's lines go to (aiokafka's default partitioner)."""
    return (murmur2(deployment_id.encode()) & 0x7FFFFFFF) % partitions


Dispatch = Callable[[str, bytes | None, bytes | None], None]


class Reader:
    """Follows some partitions from their end on a connection of its own."""

    def __init__(self, settings: Settings, parts: list[TopicPartition]) -> None:
        self.parts = parts
        self.consumer = AIOKafkaConsumer(
            **kafka_options(settings), group_id=None, enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS, auto_offset_reset="latest")

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(self.parts)
        await self.consumer.seek_to_end(*self.parts)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def follow(self, dispatch: Dispatch) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    dispatch(tp.topic, record.key, record.value)
