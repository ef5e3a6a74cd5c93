"""Real services for the edge tests: rclone's S3 server and the shared Kafka broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.async_object_store import AsyncBucket
from infra.connections import s3_client
from infra.settings import Settings
from tests.edge.support import LoopThread
from tests.support.services import object_store


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
                  ) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("edge-services")
    with object_store(root, "edge", edge_port=0, edge_admin_port=0,
                      kafka_bootstrap=kafka_bootstrap) as settings:
        yield settings


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


@pytest.fixture(scope="session")
def bucket(base_settings: Settings, loop: LoopThread) -> Iterator[AsyncBucket]:
    """The artifacts bucket through an aioboto3 client, open in ``loop``."""
    opened = AsyncBucket(base_settings)
    loop.run(opened.start())
    yield opened
    loop.run(opened.close())
