"""The worker publishes deployments of uploads served as they are
(``builder.prebuilt_runner``), against a real S3 server (rclone): the manifest with
the site configuration and compressed variants, then READY; a malformed configuration
or an upload of another project fails the deployment, naming why."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from builder.prebuilt_runner import PREBUILT, PublishPrebuilt
from infra.object_store import Bucket
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, dumps, new_id
from schemas.events import BuildStarted, DeploymentFailed, DeploymentReady
from schemas.uploads import UploadedFile, UploadRecord, upload_key
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
    return Bucket(s3, s3_settings.artifacts_bucket)


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


async def publish(store: Bucket, build: BuildSpec) -> list[Envelope]:
    """Launch through the wrapper and wait for the final event it appends."""
    appended: list[Envelope] = []

    async def append(event: Envelope) -> None:
        appended.append(event)

    runner = PublishPrebuilt(Runner(), store, append)
    assert await runner.launch(build) == PREBUILT
    assert runner.running() == [build.deployment_id]
    await eventually_async(
        lambda: appended and isinstance(appended[-1], DeploymentReady | DeploymentFailed),
        what="the publication's final event")
    await runner.close()
    return appended


@pytest.mark.asyncio
async def test_an_upload_is_published_with_its_rules_and_variants_then_ready(store: Bucket):
    files = {"index.html": "<h1>up</h1>", "style.css": CSS, "_redirects": "/old /new 301\n"}
    build = spec(upload(store, "p1", files, staged=2))
    started, ready = await publish(store, build)
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
async def test_a_malformed_configuration_fails_the_deployment_naming_the_file(store: Bucket):
    build = spec(upload(store, "p1", {"index.html": "x", "_redirects": "/only-a-source\n"}))
    started, failed = await publish(store, build)
    assert isinstance(failed, DeploymentFailed), failed
    assert failed.reason.startswith("_redirects") and "line 1" in failed.reason
    assert failed.step == "output"
    assert store.get(manifest_key(build.deployment_id)) is None


@pytest.mark.asyncio
async def test_an_upload_of_another_project_is_not_published(store: Bucket):
    build = spec(upload(store, "p1", {"index.html": "x"}), project_id="p2")
    *_, failed = await publish(store, build)
    assert isinstance(failed, DeploymentFailed) and failed.step == "publish"
    assert "belongs to another project" in failed.reason
    assert store.get(manifest_key(build.deployment_id)) is None


@pytest.mark.asyncio
async def test_a_deployment_to_build_goes_to_the_runner(store: Bucket):
    inner = Runner()

    async def append(event: Envelope) -> None:
        raise AssertionError(f"nothing is appended for a build: {event}")

    runner = PublishPrebuilt(inner, store, append)
    build = spec("u" * 32, prebuilt=False)
    assert await runner.launch(build) == "pid:1"
    assert inner.launched == [build.deployment_id] and runner.running() == inner.launched
    assert runner.name == "inner" and getattr(runner, "reap_overdue", None) is None
    await runner.close()
    assert inner.closed
