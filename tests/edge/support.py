"""Helpers for the edge tests: a background event loop, publishing a site to object
storage, and writing the routes topic, all against the real services."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.settings import Settings
from schemas.artifacts import Manifest, ManifestEntry, SiteConfig, blob_key, manifest_key
from schemas.envelope import dumps
from schemas.routes import Route

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a thread, so sync tests can drive async code (like a second
    process would) while requests go over real HTTP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def publish(s3: Any, bucket: str, deployment_id: str, files: dict[str, tuple[bytes, str]],
            site: SiteConfig | None = None) -> Manifest:
    """Upload blobs and the manifest of a deployment: ``files`` maps path -> (body, type)."""
    entries = {}
    for path, (body, content_type) in files.items():
        sha = hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket=bucket, Key=blob_key(sha), Body=body)
        entries[path] = ManifestEntry(sha256=sha, size=len(body), content_type=content_type)
    manifest = Manifest(deployment_id=deployment_id, files=entries, site=site or SiteConfig())
    s3.put_object(Bucket=bucket, Key=manifest_key(deployment_id), Body=dumps(manifest))
    return manifest


def route(label: str, deployment_id: str, number: int = 1) -> bytes:
    return dumps(Route(hostname=label, project_id="p-" + label, deployment_id=deployment_id,
                       number=number))


async def create_routes_topic(settings: Settings, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        topic = NewTopic(settings.topic_routes, partitions, 1,
                         topic_configs={"cleanup.policy": "compact"})
        await admin.create_topics([topic])
    finally:
        await admin.close()


async def produce(settings: Settings, records: list[tuple[str, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(settings.topic_routes, value, key=key.encode())
    finally:
        await producer.stop()


def edge_environment(settings: Settings, port: int) -> dict[str, str]:
    """The environment of a standalone edge (``python -m edge``) for these settings."""
    return {
        **os.environ,
        "BUILDSPACE_DATA_DIR": str(settings.data_dir),
        "BUILDSPACE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "BUILDSPACE_S3_ENDPOINT": settings.s3_endpoint or "",
        "BUILDSPACE_S3_ACCESS_KEY": settings.s3_access_key.get_secret_value(),
        "BUILDSPACE_S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "BUILDSPACE_ARTIFACTS_BUCKET": settings.artifacts_bucket,
        "BUILDSPACE_TOPIC_ROUTES": settings.topic_routes,
        "BUILDSPACE_EDGE_PORT": str(port),
    }
