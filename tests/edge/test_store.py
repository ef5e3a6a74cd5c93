"""ArtifactStore against rclone's S3 server: cold reads, disk and memory caches,
and refusing missing or corrupt artifacts."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from edge.store import ArtifactError, ArtifactStore
from infra.async_object_store import AsyncBucket
from infra.settings import Settings
from schemas.artifacts import blob_key, manifest_key
from tests.edge.support import LoopThread, publish

FILES = {"index.html": (b"<h1>cached</h1>", "text/html"), "big.bin": (b"x" * 5000, "x/y")}


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@pytest.fixture
def settings(make_settings: Callable[[], Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def dep(settings: Settings, s3: Any) -> str:
    """A published deployment's id."""
    deployment_id = f"dep-{uuid.uuid4().hex}"
    publish(s3, settings.artifacts_bucket, deployment_id, FILES)
    return deployment_id


def test_reads_manifest_and_blob(
    settings: Settings, bucket: AsyncBucket, loop: LoopThread, dep: str
) -> None:
    store = ArtifactStore(settings, bucket)
    manifest = loop.run(store.manifest(dep))
    assert manifest is not None
    entry = manifest.files["index.html"]
    assert loop.run(store.blob(entry.sha256)) == b"<h1>cached</h1>"


def test_disk_cache_survives_losing_object_storage(settings: Settings, s3: Any,
                                                   bucket: AsyncBucket, loop: LoopThread,
                                                   dep: str) -> None:
    loop.run(ArtifactStore(settings, bucket).manifest(dep))
    loop.run(ArtifactStore(settings, bucket).blob(sha(b"<h1>cached</h1>")))
    s3.delete_object(Bucket=settings.artifacts_bucket, Key=manifest_key(dep))
    s3.delete_object(Bucket=settings.artifacts_bucket, Key=blob_key(sha(b"<h1>cached</h1>")))
    fresh = ArtifactStore(settings, bucket)  # empty memory: only the disk cache can answer
    assert loop.run(fresh.manifest(dep)) is not None
    assert loop.run(fresh.blob(sha(b"<h1>cached</h1>"))) == b"<h1>cached</h1>"
    cache = settings.data_path / "edge-cache"
    assert not [p for p in cache.rglob(".tmp-*")]


@pytest.mark.usefixtures("dep")
def test_hot_blobs_are_served_from_memory(settings: Settings, s3: Any, bucket: AsyncBucket,
                                          loop: LoopThread) -> None:
    store = ArtifactStore(settings, bucket, max_memory_blob=1000)
    small, big = sha(b"<h1>cached</h1>"), sha(b"x" * 5000)
    loop.run(store.blob(small))
    loop.run(store.blob(big))
    for path in (settings.data_path / "edge-cache" / "blobs").rglob("*"):
        if path.is_file():
            path.unlink()
    for key in (small, big):
        s3.delete_object(Bucket=settings.artifacts_bucket, Key=blob_key(key))
    assert loop.run(store.blob(small)) == b"<h1>cached</h1>"
    with pytest.raises(ArtifactError):  # too big for memory, gone from disk and storage
        loop.run(store.blob(big))


def test_concurrent_misses_share_one_read(
    settings: Settings, bucket: AsyncBucket, loop: LoopThread, dep: str
) -> None:
    store = ArtifactStore(settings, bucket)

    async def many() -> list[Any]:
        return await asyncio.gather(*(store.manifest(dep) for _ in range(20)))

    results = loop.run(many())
    assert all(result is results[0] for result in results)


def test_missing_manifest_is_none(settings: Settings, bucket: AsyncBucket,
                                  loop: LoopThread) -> None:
    store = ArtifactStore(settings, bucket)
    assert loop.run(store.manifest("no-such-deployment")) is None
    assert loop.run(store.manifest("../../etc/passwd")) is None


def test_missing_blob_is_an_error(settings: Settings, bucket: AsyncBucket,
                                  loop: LoopThread) -> None:
    with pytest.raises(ArtifactError):
        loop.run(ArtifactStore(settings, bucket).blob(sha(b"never uploaded")))
    with pytest.raises(ArtifactError):
        loop.run(ArtifactStore(settings, bucket).blob("../../etc/passwd"))


def test_corrupt_blob_is_refused_and_not_cached(settings: Settings, s3: Any,
                                                bucket: AsyncBucket, loop: LoopThread) -> None:
    claimed = sha(b"the real content")
    s3.put_object(Bucket=settings.artifacts_bucket, Key=blob_key(claimed), Body=b"tampered")
    with pytest.raises(ArtifactError, match="corrupt"):
        loop.run(ArtifactStore(settings, bucket).blob(claimed))
    assert not (settings.data_path / "edge-cache" / "blobs" / claimed[:2] / claimed).exists()


def test_manifest_naming_another_deployment_is_refused(settings: Settings, s3: Any,
                                                       bucket: AsyncBucket, loop: LoopThread,
                                                       dep: str) -> None:
    body = s3.get_object(Bucket=settings.artifacts_bucket,
                         Key=manifest_key(dep))["Body"].read()
    s3.put_object(Bucket=settings.artifacts_bucket, Key=manifest_key("dep-impostor"), Body=body)
    with pytest.raises(ArtifactError):
        loop.run(ArtifactStore(settings, bucket).manifest("dep-impostor"))


def test_unreadable_cached_manifest_is_fetched_again(settings: Settings, bucket: AsyncBucket,
                                                     loop: LoopThread, dep: str) -> None:
    cached = settings.data_path / "edge-cache" / "manifests" / f"{dep}.json"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"{truncated")
    manifest = loop.run(ArtifactStore(settings, bucket).manifest(dep))
    assert manifest is not None and "index.html" in manifest.files
    assert cached.read_bytes().startswith(b"{\"deployment_id\"")
