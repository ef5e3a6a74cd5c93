"""The Faust app: topic declarations, agent registration and the consumer's fetch wait.

``create_app(deps)`` builds the app for one worker process; agents are registered from
``streams.agents`` with their dependencies passed explicitly. Run with
``buildspace worker`` (or inside ``buildspace up``).

The fetch wait. Faust hard-codes a 1500 ms ``fetch_max_wait_ms``, and Tansu answers a
fetch at the end of a partition only when that wait runs out (new records are picked
up after about half of it), so ``bskafka://`` starts from ``FETCH_MAX_WAIT_MS``. A
fixed short wait is not enough: on S3 every record batch is an object of its own and
a fetch lists the partition's folder, so the broker's read takes longer the more
batches a partition holds, and a fetch whose read outlasts its wait comes back empty,
every time. A fixed 100 ms wait stopped a consumer for good on a partition of 4,000
batches (5 ms: ~1,000; 20 ms: ~3,000). So, as the live log readers do
(``projections.live``), the wait adapts per fetch response (``AdaptiveFetchWait``):
doubled when the broker answered without records for a partition that had records
before the fetch was sent, eased back 0.5% per fetch that brings records, never below
``FETCH_MAX_WAIT_MS``. The ceiling is higher than the live readers' 1 s because an
agent must read every record, not just follow the end: a read took 0.3-0.5 s at 8,000
batches, so ``MAX_FETCH_WAIT_MS`` covers partitions of some 100,000 batches. A longer
wait costs nothing while records flow (a fetch returns at once when it finds some);
it only delays picking up a new record at an idle end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import TopicPartition
from aiokafka.consumer.fetcher import FetchResult
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from infra.settings import Settings
from projections.live import FetchWait

log = logging.getLogger("buildspace.streams")

# The shortest wait, and the usual one: agents stay well under a second behind, and a
# 200,000-line build's log keeps up (20 ms starved the log projection at about 6,000
# lines/s). See the module docstring for why it grows.
FETCH_MAX_WAIT_MS = 100
MAX_FETCH_WAIT_MS = 5000


class AdaptiveFetchWait:
    """Adapts one aiokafka ``Fetcher``'s wait from the fetch responses it processes.

    aiokafka has no setting for this, but the fetcher reads ``_fetch_max_wait_ms`` for
    every request it builds and processes each response in ``_proc_fetch_request`` (a
    task on the consumer's own loop: the Faust consumer thread's), which this wraps on
    the one fetcher instance. No request of its own: each response carries the
    partitions' highwater, which the fetcher keeps with their positions.
    """

    def __init__(self, fetcher: Any, low_ms: int = FETCH_MAX_WAIT_MS,
                 high_ms: int = MAX_FETCH_WAIT_MS) -> None:
        self.wait = FetchWait(low_ms, high_ms)
        self._fetcher = fetcher
        self._process = fetcher._proc_fetch_request
        fetcher._proc_fetch_request = self._proc_fetch_request
        fetcher._fetch_max_wait_ms = low_ms

    @property
    def ms(self) -> int:
        """The wait the fetcher's next request carries."""
        return int(self._fetcher._fetch_max_wait_ms)

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> Any:
        asked = {TopicPartition(topic, partition): offset
                 for topic, partitions in request.topics
                 for partition, offset, _ in partitions}
        # Per partition: were records there before this fetch, and when was it last
        # answered (the fetcher stamps every partition the broker answers without error).
        before = {tp: (_has_records_at(assignment.state_value(tp).highwater, offset),
                       assignment.state_value(tp).timestamp)
                  for tp, offset in asked.items()}
        result = await self._process(assignment, node_id, request)
        if assignment.active:  # else the response was dropped, and the wait is moot
            fetched = stalled = False
            for tp, (had_records, stamp) in before.items():
                got = isinstance(self._fetcher._records.get(tp), FetchResult)
                answered = assignment.state_value(tp).timestamp != stamp
                fetched = fetched or got
                stalled = stalled or (had_records and answered and not got)
            self.observed(fetched=fetched, stalled=stalled)
        return result

    def observed(self, *, fetched: bool, stalled: bool) -> None:
        """One fetch's outcome: records for some partition (``fetched``); the broker gave
        up on a partition that had records before the fetch (``stalled``)."""
        if stalled:
            self.wait.stalled()
            log.info("fetch came back empty on a partition with records: fetch wait now "
                     "%.0f ms", self.wait.ms)
        elif fetched:
            self.wait.progressed()
        self._fetcher._fetch_max_wait_ms = int(self.wait.ms)


def _has_records_at(highwater: int | None, offset: int) -> bool:
    return highwater is not None and highwater > offset


class _FastFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_wait: AdaptiveFetchWait | None = None

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def on_start(self) -> None:
        # The consumer makes its fetcher in start(); it fetches nothing before the group
        # assigns it partitions, so wrapping it right after misses no response.
        await super().on_start()
        assert self._consumer is not None
        self.fetch_wait = AdaptiveFetchWait(self._consumer._fetcher, FETCH_MAX_WAIT_MS)


class _FastFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _FastFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """aiokafka transport with a short, adaptive fetch wait (``bskafka://`` broker URLs)."""

    Consumer = _FastFetchConsumer


TRANSPORTS.aliases["bskafka"] = f"{__name__}:Transport"


@dataclass
class Topics:
    events_topic: Any
    logs_topic: Any
    commands_topic: Any


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        "buildspace",
        broker=f"bskafka://{settings.kafka_bootstrap}",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        producer_acks=-1,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # Tansu waits about half the session timeout before completing a join.
        broker_session_timeout=4.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=3.0,
        stream_wait_empty=False,
        logging_config={"version": 1, "disable_existing_loggers": False},
    )


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    def raw(name: str) -> Any:
        return app.topic(name, key_serializer="raw", value_serializer="raw",
                         partitions=settings.topic_partitions)

    return Topics(
        events_topic=raw(settings.topic_events),
        logs_topic=raw(settings.topic_logs),
        commands_topic=raw(settings.topic_commands),
    )
