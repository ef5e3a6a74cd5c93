"""The embedded stack's services for component tests: rclone's S3 server with the
platform's buckets, and the Tansu broker on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from infra.connections import ensure_bucket, s3_client
from infra.embedded import RcloneS3, TansuBroker
from infra.settings import Settings


@contextlib.contextmanager
def object_store(root: Path, name: str, **overrides: Any) -> Iterator[Settings]:
    """An S3 server under ``root`` with ``<name>-artifacts`` and ``<name>-kafka``
    buckets; the settings that reach it."""
    key, secret = f"{name}-test", f"{name}-test-secret"
    s3 = RcloneS3(root / "s3", 0, key, secret, root / "logs")
    try:
        settings = Settings(
            data_dir=root / "data", s3_endpoint=s3.endpoint, s3_access_key=SecretStr(key),
            s3_secret_key=SecretStr(secret), artifacts_bucket=f"{name}-artifacts",
            kafka_bucket=f"{name}-kafka", **overrides)
        client = s3_client(settings)
        ensure_bucket(client, settings.artifacts_bucket)
        ensure_bucket(client, settings.kafka_bucket)
        yield settings
    finally:
        s3.stop()


@contextlib.contextmanager
def broker(settings: Settings, logs: Path) -> Iterator[Settings]:
    """A Tansu broker storing its log in ``settings``' S3; settings with its address."""
    running = TansuBroker(0, settings.s3_endpoint or "", settings.kafka_bucket,
                          settings.s3_access_key.get_secret_value(),
                          settings.s3_secret_key.get_secret_value(), settings.s3_region, logs)
    try:
        yield settings.model_copy(update={"kafka_bootstrap": running.bootstrap})
    finally:
        running.stop()
