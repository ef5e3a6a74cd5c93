"""Real services for the builder tests: a smart-HTTP git server, rclone's S3 server and
the shared Kafka broker, with topics of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from infra.connections import s3_client
from infra.kafka import ensure_topics
from infra.settings import Settings
from tests.support.services import object_store
from tests.support.sync import run_sync


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with object_store(tmp_path_factory.mktemp("builder-services"), "builder",
                      build_timeout_seconds=60, build_memory_mb=512) as settings:
        yield settings


@pytest.fixture(scope="session")
def settings(s3_settings: Settings, kafka_bootstrap: str) -> Settings:
    """S3 plus the broker, with topics named for this test session."""
    suffix = uuid.uuid4().hex[:8]
    full = s3_settings.model_copy(update={
        "kafka_bootstrap": kafka_bootstrap,
        "topic_events": f"events-{suffix}", "topic_logs": f"logs-{suffix}",
        "topic_commands": f"commands-{suffix}", "topic_routes": f"routes-{suffix}",
        "topic_partitions": 4,
    })
    run_sync(ensure_topics(full))
    return full


@pytest.fixture(scope="session")
def s3(s3_settings: Settings) -> Any:
    return s3_client(s3_settings)
