"""Real services for the builder tests: a smart-HTTP git server, rclone's S3 server and
the Tansu broker on it, with topics of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from infra.connections import ensure_bucket, s3_client
from infra.embedded import RcloneS3, TansuBroker
from infra.kafka import ensure_topics
from infra.settings import Settings
from tests.support.gitserver import GitServer

KEY, SECRET = "builder-test", "builder-test-secret"


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("git")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("builder-services")
    s3 = RcloneS3(root / "s3", 0, KEY, SECRET, root / "logs")
    settings = Settings(
        data_dir=root / "data", s3_endpoint=s3.endpoint, s3_access_key=SecretStr(KEY),
        s3_secret_key=SecretStr(SECRET), artifacts_bucket="builder-artifacts",
        kafka_bucket="builder-kafka", build_timeout_seconds=60, build_memory_mb=512,
    )
    try:
        client = s3_client(settings)
        ensure_bucket(client, settings.artifacts_bucket)
        ensure_bucket(client, settings.kafka_bucket)
        yield settings
    finally:
        s3.stop()


@pytest.fixture(scope="session")
def settings(s3_settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Settings]:
    """S3 plus a broker, with topics named for this test session."""
    s = s3_settings
    broker = TansuBroker(0, s.s3_endpoint or "", s.kafka_bucket, KEY, SECRET, s.s3_region,
                         tmp_path_factory.mktemp("broker-logs"))
    suffix = uuid.uuid4().hex[:8]
    try:
        full = s.model_copy(update={
            "kafka_bootstrap": broker.bootstrap, "topic_events": f"events-{suffix}",
            "topic_logs": f"logs-{suffix}", "topic_commands": f"commands-{suffix}",
            "topic_routes": f"routes-{suffix}", "topic_partitions": 4,
        })
        asyncio.run(ensure_topics(full))
        yield full
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def s3(s3_settings: Settings) -> Any:
    return s3_client(s3_settings)
