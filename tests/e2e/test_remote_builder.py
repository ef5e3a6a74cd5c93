"""A builder outside the platform (as in an ECS task) holds only a grant for its one
deployment: with it, it reports and publishes through the API; without a valid one, the
API refuses it and nothing is appended or stored. (A whole ECS build, its spec fetched
with the grant, is in ``test_ecs_builds``.)"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from builder.build_failed import BuildFailed
from builder.collect import OutputFile
from builder.emitter import MAX_BATCH_LINES, control_fields
from builder.remote import HttpEmitter, RemotePublisher, RemoteTarget
from infra.connections import s3_client
from infra.grants import mint
from infra.secrets import grant_key
from infra.settings import Settings
from schemas.artifacts import Manifest, ManifestEntry, blob_key, manifest_key
from schemas.builds import BuildSpec
from schemas.envelope import new_id, utcnow
from schemas.events import BuildStarted, DeploymentCanceled, DeploymentFailed
from schemas.logs import BuildLogAppended, LogLine
from tests.support.kafka import all_records, find_event
from tests.support.platform import Platform
from tests.support.waiting import eventually_async

EVENTS, LOGS = "buildspace.events", "buildspace.logs"
JSON = {"Content-Type": "application/json"}


def platform_key(platform: Platform) -> bytes:
    """The platform's grant key (generated into its data dir on first use)."""
    return grant_key(Settings(data_dir=platform.data_dir))


def platform_s3(platform: Platform) -> Any:
    port = platform.env["BUILDSPACE_EMBEDDED_S3_PORT"]
    return s3_client(Settings(s3_endpoint=f"http://127.0.0.1:{port}"))


def create_project(platform: Platform, git_url: str) -> dict[str, Any]:
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": f"remote {new_id()[:8]}", "git_url": git_url})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def request_deployment(platform: Platform, project_id: str) -> dict[str, Any]:
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/deployments")
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def reported(platform: Platform, stderr: str, event_type: str) -> dict[str, Any]:
    """The event of ``event_type`` the builder says it reported, as the topic holds it."""
    found = re.findall(rf"reported {event_type} ([0-9a-f]{{32}})", stderr)
    assert len(found) == 1, stderr
    return find_event(platform.kafka, EVENTS, lambda e: e.get("event_id") == found[0])


async def event_ids(platform: Platform, topic: str) -> set[str]:
    return {r.get("event_id", "") for r in await all_records(platform.kafka, topic)}


@pytest.fixture
def scope(platform) -> dict[str, Any]:
    """A project, a deployment id for it, and the platform's grant key."""
    project = create_project(platform, "http://127.0.0.1:1/never-cloned.git")
    return {"project_id": project["id"], "deployment_id": new_id(),
            "key": platform_key(platform)}


def started(project_id: str, deployment_id: str, **fields: Any) -> BuildStarted:
    return BuildStarted(**{"stream_id": project_id, "project_id": project_id,
                           "deployment_id": deployment_id, "commit_sha": "0" * 40,
                           "runner": "ecs", **fields})


def log_batch(project_id: str, deployment_id: str) -> BuildLogAppended:
    line = LogLine(seq=1, stream="system", ts=utcnow(), line="hello")
    return BuildLogAppended(stream_id=deployment_id, project_id=project_id,
                            deployment_id=deployment_id, lines=[line])


def granted_client(platform: Platform, scope: dict[str, Any]) -> httpx.Client:
    d, p = scope["deployment_id"], scope["project_id"]
    return httpx.Client(base_url=f"{platform.api}/v1/builds/{d}", headers=JSON | {
        "Authorization": f"Bearer {mint(scope['key'], d, p, 600)}"})


def bad_grants(scope: dict[str, Any]) -> dict[str, str | None]:
    d, p, key = scope["deployment_id"], scope["project_id"], scope["key"]
    return {
        "none": None,
        "garbage": "not-a-grant",
        "wrong key": mint(b"some other platform's key", d, p, 600),
        "expired": mint(key, d, p, 600, now=time.time() - 601),
        "other deployment": mint(key, new_id(), p, 600),
    }


@pytest.mark.asyncio
async def test_a_missing_wrong_or_expired_grant_is_refused_and_appends_nothing(platform, scope):
    d, p = scope["deployment_id"], scope["project_id"]
    manifest = Manifest(deployment_id=d, files={})
    sent: list[str] = []
    for label, grant in bad_grants(scope).items():
        headers = {"Authorization": f"Bearer {grant}"} if grant else {}
        event, logs = started(p, d), log_batch(p, d)
        sent += [event.event_id, logs.event_id]
        with httpx.Client(base_url=f"{platform.api}/v1/builds/{d}", headers=headers) as c:
            answers = [c.post("/events", content=event.model_dump_json()),
                       c.post("/logs", content=logs.model_dump_json()),
                       c.post("/blobs", json={"sha256": ["0" * 64]}),
                       c.put("/manifest", content=manifest.model_dump_json()),
                       c.get("/spec")]
        for r in answers:
            assert r.status_code == 401, (label, r.request.url, r.text)
            assert r.json()["error"]["code"] == "unauthorized"

    control = log_batch(p, d)  # the same request with the right grant is appended
    with granted_client(platform, scope) as c:
        assert c.post("/logs", content=control.model_dump_json()).status_code == 202
    appended = await event_ids(platform, EVENTS) | await event_ids(platform, LOGS)
    assert control.event_id in appended
    assert not set(sent) & appended
    with pytest.raises(ClientError):
        platform_s3(platform).head_object(Bucket="buildspace-artifacts", Key=manifest_key(d))


@pytest.mark.asyncio
async def test_a_grant_covers_only_its_own_deployments_reports(platform, scope):
    d, p = scope["deployment_id"], scope["project_id"]
    other = new_id()
    refused = {
        "/events": [started(p, other), started(new_id(), d), started(p, d, stream_id=d)],
        "/logs": [log_batch(p, other), log_batch(new_id(), d)],
    }
    canceled = DeploymentCanceled(stream_id=p, project_id=p, deployment_id=d, reason="x")
    with granted_client(platform, scope) as c:
        for path, bodies in refused.items():
            for body in bodies:
                r = c.post(path, content=body.model_dump_json())
                assert r.status_code == 403, (path, body, r.text)
        assert c.post("/events", content=canceled.model_dump_json()).status_code == 422
        other_manifest = Manifest(deployment_id=other, files={})
        assert c.put("/manifest", content=other_manifest.model_dump_json()).status_code == 403
        missing = Manifest(deployment_id=d, files={"index.html": ManifestEntry(
            sha256="1" * 64, size=3, content_type="text/html")})
        r = c.put("/manifest", content=missing.model_dump_json())
        assert r.status_code == 422 and "1" * 64 in r.text
    appended = await event_ids(platform, EVENTS) | await event_ids(platform, LOGS)
    assert not {b.event_id for bodies in refused.values() for b in bodies} & appended
    assert canceled.event_id not in appended
    with pytest.raises(ClientError):
        platform_s3(platform).head_object(Bucket="buildspace-artifacts", Key=manifest_key(d))


@pytest.mark.asyncio
async def test_the_http_emitter_sends_numbered_batches_and_heartbeats_in_order(platform, scope):
    d, p = scope["deployment_id"], scope["project_id"]
    spec = BuildSpec(project_id=p, deployment_id=d, git_url="http://127.0.0.1:1/x.git",
                     ref="main", correlation_id="corr-remote")
    target = RemoteTarget(platform.api, mint(scope["key"], d, p, 600))

    emitter = HttpEmitter(Settings(heartbeat_seconds=0.05), spec, target)
    async with emitter:
        await emitter.system("Cloning")
        for i in range(1200):
            await emitter.line("stdout" if i % 2 else "stderr", f"line {i}")
        failed = DeploymentFailed(**control_fields(spec), project_id=p, deployment_id=d,
                                  reason="test", log_lines=emitter.seq)
        await emitter.publish(failed)
        await heartbeat(platform, d, last_seq=1201)
        assert emitter.beating
    assert not emitter.beating
    failed_id = failed.event_id

    messages = await deployment_records(platform, LOGS, d)
    batches = [m for m in messages if m["type"] == "BuildLogAppended"]
    lines = [line for m in batches for line in m["lines"]]
    assert [line["seq"] for line in lines] == list(range(1, 1202))
    assert lines[0]["line"] == "Cloning" and lines[0]["stream"] == "system"
    assert len(batches) >= 3 and max(len(m["lines"]) for m in batches) <= MAX_BATCH_LINES
    assert {m["stream_id"] for m in messages} == {d}
    assert {m["correlation_id"] for m in messages} == {"corr-remote"}
    (stored,) = [e for e in await deployment_records(platform, EVENTS, d)
                 if e["event_id"] == failed_id]
    assert stored["stream_id"] == p and stored["log_lines"] == 1201


async def heartbeat(platform: Platform, deployment_id: str, last_seq: int) -> None:
    """Wait for the deployment's heartbeat reporting ``last_seq`` to be in the topic."""
    async def reported() -> list[dict[str, Any]]:
        return [r for r in await all_records(platform.kafka, LOGS)
                if r.get("deployment_id") == deployment_id
                and r.get("type") == "BuildHeartbeat" and r.get("last_seq") == last_seq]
    await eventually_async(reported, 30, what=f"a heartbeat reporting line {last_seq}")


def test_the_remote_publisher_uploads_each_blob_once(platform, scope, tmp_path):
    d, p = scope["deployment_id"], scope["project_id"]
    unique = new_id().encode()
    files = [output_file(tmp_path, "index.html", b"<p>" + unique + b"</p>"),
             output_file(tmp_path, "copy.html", b"<p>" + unique + b"</p>"),
             output_file(tmp_path, "app.js", unique * 1000)]
    again = new_id()

    first = RemotePublisher(RemoteTarget(platform.api, mint(scope["key"], d, p, 600)))(d, files)
    second = RemotePublisher(RemoteTarget(platform.api, mint(scope["key"], again, p, 600)))(
        again, files)

    assert (first.file_count, first.distinct_blobs, first.uploaded_blobs) == (3, 2, 2)
    assert (second.distinct_blobs, second.uploaded_blobs) == (2, 0)
    s3 = platform_s3(platform)
    stored = s3.get_object(Bucket="buildspace-artifacts", Key=manifest_key(d))["Body"].read()
    manifest = Manifest.model_validate_json(stored)
    assert manifest.files["copy.html"] == manifest.files["index.html"]
    blob = s3.get_object(Bucket="buildspace-artifacts",
                         Key=blob_key(manifest.files["app.js"].sha256))["Body"].read()
    assert blob == unique * 1000


def test_an_expired_grant_fails_the_publish_with_a_reason(platform, scope, tmp_path):
    d, p = scope["deployment_id"], scope["project_id"]
    files = [output_file(tmp_path, "index.html", new_id().encode())]
    expired = RemoteTarget(platform.api, mint(scope["key"], d, p, 600, now=time.time() - 601))

    with pytest.raises(BuildFailed, match="could not upload the output.*401"):
        RemotePublisher(expired)(d, files)


def output_file(root: Path, path: str, content: bytes) -> OutputFile:
    source = root / path
    source.write_bytes(content)
    return OutputFile(path, source, hashlib.sha256(content).hexdigest(), len(content),
                      "text/html")


async def deployment_records(platform: Platform, topic: str, deployment_id: str
                             ) -> list[dict[str, Any]]:
    records = await all_records(platform.kafka, topic)
    return [r for r in records if r.get("deployment_id") == deployment_id]
