"""The worker publishes deployments of uploads served as they are
(``builder.prebuilt_runner``) on the worker's ``AsyncBucket``, against a real S3 server
(rclone): the manifest with the site configuration and compressed variants, then
READY; a redeploy reuses stored variants, and makes again those collected since; a
malformed configuration or an upload of another project fails the deployment, naming
why."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import pytest_asyncio

from builder.prebuilt import variants_key
from builder.prebuilt_runner import PREBUILT, PublishPrebuilt
from infra.async_object_store import AsyncBucket
from infra.object_store import Bucket
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, dumps, new_id
from schemas.events import BuildStarted, DeploymentFailed, DeploymentReady
from schemas.uploads import UploadedFile, UploadRecord, upload_key
from tests.support.services import async_bucket
from tests.support.waiting import eventually_async

CSS = "body { color: #333; margin: 0 auto; }\n" * 40  # compressible


class Runner:
    """The runner behind the wrapper: records what it was asked to build."""

    name = "inner"

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.closed = False

    async def launch(self, spec: BuildSpec) -> str:
        self.launched.append(spec.deployment_id)
        return "pid:1"

    async def cancel(self, deployment_id: str) -> None:
        pass

    def running(self) -> list[str]:
        return self.launched

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def store(s3: Any, s3_settings: Settings) -> Bucket:
    """The sync view, to set the store up as the API leaves it and to look at it."""
    return Bucket(s3, s3_settings.artifacts_bucket)


@pytest_asyncio.fixture
async def bucket(s3_settings: Settings) -> AsyncIterator[AsyncBucket]:
    """The worker's bucket, opened in the loop that publishes."""
    async with async_bucket(s3_settings) as opened:
        yield opened


def upload(store: Bucket, project_id: str, files: dict[str, str], staged: int = 0) -> str:
    """Store the files' blobs and an upload record naming them, as the API leaves them."""
    entries = {}
    for path, text in files.items():
        body = text.encode()
        sha = hashlib.sha256(body).hexdigest()
        store.put(blob_key(sha), body, "application/octet-stream")
        entries[path] = UploadedFile(sha256=sha, size=len(body))
    record = UploadRecord(upload_id=new_id(), project_id=project_id, files=entries,
                          staged={e.sha256: e.size for e in list(entries.values())[:staged]},
                          created_at=datetime.now(UTC))
    store.put(upload_key(record.upload_id), dumps(record))
    return record.upload_id


def spec(upload_id: str, project_id: str = "p1", prebuilt: bool = True) -> BuildSpec:
    return BuildSpec(project_id=project_id, deployment_id=new_id(), git_url="", ref="upload",
                     upload_id=upload_id, prebuilt=prebuilt)


async def publish(bucket: AsyncBucket, build: BuildSpec) -> list[Envelope]:
    """Launch through the wrapper and wait for the final event it appends."""
    appended: list[Envelope] = []

    async def append(event: Envelope) -> None:
        appended.append(event)

    runner = PublishPrebuilt(Runner(), bucket, append)
    assert await runner.launch(build) == PREBUILT
    assert runner.running() == [build.deployment_id]
    await eventually_async(
        lambda: appended and isinstance(appended[-1], DeploymentReady | DeploymentFailed),
        what="the publication's final event")
    await runner.close()
    return appended


@pytest.mark.asyncio
async def test_an_upload_is_published_with_its_rules_and_variants_then_ready(
        store: Bucket, bucket: AsyncBucket):
    files = {"index.html": "<h1>up</h1>", "style.css": CSS, "_redirects": "/old /new 301\n"}
    build = spec(upload(store, "p1", files, staged=2))
    started, ready = await publish(bucket, build)
    assert isinstance(started, BuildStarted) and started.runner == PREBUILT
    assert isinstance(ready, DeploymentReady), ready
    assert (ready.file_count, ready.uploaded_blobs) == (2, 2)  # _redirects is not served
    assert ready.causation_id is None and ready.project_id == "p1"
    raw = store.get(manifest_key(build.deployment_id))
    assert raw is not None
    manifest = Manifest.model_validate_json(raw)
    assert sorted(manifest.files) == ["index.html", "style.css"]
    assert set(manifest.files["style.css"].encodings) == {"br", "gzip"}
    assert [(r.source, r.destination, r.status) for r in manifest.site.rules] == [
        ("/old", "/new", 301)]


@pytest.mark.asyncio
async def test_a_malformed_configuration_fails_the_deployment_naming_the_file(
        store: Bucket, bucket: AsyncBucket):
    build = spec(upload(store, "p1", {"index.html": "x", "_redirects": "/only-a-source\n"}))
    started, failed = await publish(bucket, build)
    assert isinstance(failed, DeploymentFailed), failed
    assert failed.reason.startswith("_redirects") and "line 1" in failed.reason
    assert failed.step == "output"
    assert store.get(manifest_key(build.deployment_id)) is None


@pytest.mark.asyncio
async def test_an_upload_of_another_project_is_not_published(store: Bucket,
                                                              bucket: AsyncBucket):
    build = spec(upload(store, "p1", {"index.html": "x"}), project_id="p2")
    *_, failed = await publish(bucket, build)
    assert isinstance(failed, DeploymentFailed) and failed.step == "publish"
    assert "belongs to another project" in failed.reason
    assert store.get(manifest_key(build.deployment_id)) is None


@pytest.mark.asyncio
async def test_a_deployment_to_build_goes_to_the_runner(bucket: AsyncBucket):
    inner = Runner()

    async def append(event: Envelope) -> None:
        raise AssertionError(f"nothing is appended for a build: {event}")

    runner = PublishPrebuilt(inner, bucket, append)
    build = spec("u" * 32, prebuilt=False)
    assert await runner.launch(build) == "pid:1"
    assert inner.launched == [build.deployment_id] and runner.running() == inner.launched
    assert runner.name == "inner" and getattr(runner, "reap_overdue", None) is None
    await runner.close()
    assert inner.closed


@pytest.mark.asyncio
async def test_a_redeploy_reuses_stored_variants_and_remakes_collected_ones(
        store: Bucket, bucket: AsyncBucket):
    css = CSS + "/* redeploy */\n"
    sha = hashlib.sha256(css.encode()).hexdigest()
    first = spec(upload(store, "p1", {"a.css": css}))
    *_, ready = await publish(bucket, first)
    assert isinstance(ready, DeploymentReady), ready
    made = Manifest.model_validate_json(store.get(manifest_key(first.deployment_id)) or b"")
    variants = made.files["a.css"].encodings
    assert set(variants) == {"br", "gzip"} and store.get(variants_key(sha)) is not None

    # Point the index's gzip at another stored blob: a redeploy that reuses the index
    # (compresses nothing) names that blob.
    other = b"z" * 64
    other_sha = hashlib.sha256(other).hexdigest()
    store.put(blob_key(other_sha), other, "application/octet-stream")
    store.put(variants_key(sha), orjson.dumps({
        "gzip": {"sha256": other_sha, "size": len(other)},
        "br": {"sha256": variants["br"].sha256, "size": variants["br"].size}}))
    second = spec(upload(store, "p1", {"b.css": css}))
    *_, ready = await publish(bucket, second)
    assert isinstance(ready, DeploymentReady), ready
    reused = Manifest.model_validate_json(store.get(manifest_key(second.deployment_id)) or b"")
    assert reused.files["b.css"].encodings["gzip"].sha256 == other_sha

    # The collector deleted that blob: the index is not trusted, the variants are remade.
    store.delete(blob_key(other_sha))
    third = spec(upload(store, "p1", {"c.css": css}))
    *_, ready = await publish(bucket, third)
    assert isinstance(ready, DeploymentReady), ready
    remade = Manifest.model_validate_json(store.get(manifest_key(third.deployment_id)) or b"")
    assert remade.files["c.css"].encodings == variants
