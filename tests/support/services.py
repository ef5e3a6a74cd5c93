"""The embedded stack's services for component tests: rclone's S3 server with the
artifacts bucket, and the Tansu broker with its own log store."""

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


@contextlib.contextmanager
def broker(settings: Settings, logs: Path) -> Iterator[Settings]:
    """A Tansu broker, its log under ``logs/kafka``; settings with its address."""
    running = TansuBroker(0, logs / "kafka", logs)
    try:
        yield settings.model_copy(update={"kafka_bootstrap": running.bootstrap})
    finally:
        running.stop()
