"""The Faust app: topic declarations and agent registration.

``create_app(deps)`` builds the app for one worker process; agents are registered from
``streams.agents`` with their dependencies passed explicitly. Run with
``buildspace worker`` (or inside ``buildspace up``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from infra.settings import Settings


@dataclass
class Topics:
    events_topic: Any
    logs_topic: Any
    commands_topic: Any


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        "buildspace",
        broker=f"kafka://{settings.kafka_bootstrap}",
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
