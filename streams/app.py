"""The Faust app: topic declarations and agent registration.

``create_app(deps)`` builds the app for one worker process; agents are registered from
``streams.agents`` with their dependencies passed explicitly. Run with
``buildspace worker`` (or inside ``buildspace up``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from infra.settings import Settings

# Tansu answers a fetch only when fetch_max_wait_ms runs out, not when a record
# arrives, and returns little per fetch; Faust hard-codes 1500 ms. 100 ms keeps agents
# well under a second behind and lets a 200,000-line build's log keep up (20 ms
# starved the log projection: about 6,000 lines/s).
FETCH_MAX_WAIT_MS = 100


class _FastFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _FastFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _FastFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """aiokafka transport with a short fetch wait (``bskafka://`` broker URLs)."""

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
