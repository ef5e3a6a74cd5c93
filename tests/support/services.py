"""The embedded stack's services for component tests: rclone's S3 server with the
platform's artifacts bucket, and a Kafka broker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from infra.async_object_store import AsyncBucket
from infra.broker import KafkaBroker
from infra.connections import ensure_bucket, s3_client
from infra.embedded import RcloneS3
from infra.settings import Settings


@contextlib.contextmanager
def object_store(root: Path, name: str, **overrides: Any) -> Iterator[Settings]:
    """An S3 server under ``root`` with a ``<name>-artifacts`` bucket; the settings that
    reach it."""
    key, secret = f"{name}-test", f"{name}-test-secret"
    s3 = RcloneS3(root / "s3", 0, key, secret, root / "logs")
    try:
        settings = Settings(
            data_dir=root / "data", s3_endpoint=s3.endpoint, s3_access_key=SecretStr(key),
            s3_secret_key=SecretStr(secret), artifacts_bucket=f"{name}-artifacts",
            **overrides)
        client = s3_client(settings)
        ensure_bucket(client, settings.artifacts_bucket)
        yield settings
    finally:
        s3.stop()


@contextlib.asynccontextmanager
async def async_bucket(settings: Settings) -> AsyncIterator[AsyncBucket]:
    """The artifacts bucket through an aioboto3 client opened, like a role's, in the loop
    that uses it, and closed afterwards."""
    opened = AsyncBucket(settings)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


@contextlib.contextmanager
def kafka(root: Path) -> Iterator[KafkaBroker]:
    """A Kafka broker with its data and logs under ``root``, stopped afterwards."""
    running = KafkaBroker(root / "kafka", 0, root / "logs").start()
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def broker(settings: Settings, root: Path) -> Iterator[Settings]:
    """``settings`` with the address of a broker of their own under ``root``."""
    with kafka(root) as running:
        yield settings.model_copy(update={"kafka_bootstrap": running.bootstrap})
