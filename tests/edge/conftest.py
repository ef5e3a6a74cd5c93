"""Real services for the edge tests: rclone's S3 server and the Tansu broker on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from infra.connections import ensure_bucket, s3_client
from infra.embedded import RcloneS3, TansuBroker
from infra.settings import Settings
from tests.edge.support import LoopThread

KEY, SECRET = "edge-test", "edge-test-secret"


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("edge-services")
    s3 = RcloneS3(root / "s3", 0, KEY, SECRET, root / "logs")
    settings = Settings(
        data_dir=root / "data", s3_endpoint=s3.endpoint, s3_access_key=SecretStr(KEY),
        s3_secret_key=SecretStr(SECRET), artifacts_bucket="edge-artifacts",
        kafka_bucket="edge-kafka", edge_port=0,
    )
    try:
        client = s3_client(settings)
        ensure_bucket(client, settings.kafka_bucket)
        ensure_bucket(client, settings.artifacts_bucket)
        broker = TansuBroker(0, s3.endpoint, settings.kafka_bucket, KEY, SECRET,
                             settings.s3_region, root / "logs")
        try:
            yield settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})
        finally:
            broker.stop()
    finally:
        s3.stop()


@pytest.fixture(scope="session")
def make_settings(
    base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Settings]:
    """Fresh settings: a routes topic and an edge cache directory of their own."""

    def make() -> Settings:
        return base_settings.model_copy(update={
            "topic_routes": f"routes-{uuid.uuid4().hex[:12]}",
            "data_dir": tmp_path_factory.mktemp("edge-data"),
        })

    return make


@pytest.fixture(scope="session")
def s3(base_settings: Settings) -> Any:
    return s3_client(base_settings)


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()
