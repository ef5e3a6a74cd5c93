"""``buildspace replay`` against the running platform: after a scripted workload
(projects, deployments that pass and fail, a preview, rollback and promote, build
variables, domains, hooks and webhooks, a deleted project), every replayable read model
is dumped, replayed from the first event and dumped again: byte for byte the same, and
no webhook is sent again. A replay of one projection leaves the API answering
throughout, and the live worker projects into the swapped-in tables right after."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from projections.registry import REPLAYABLE
from projections.replay import REPLAY_LOCK
from schemas.envelope import new_id
from tests.e2e.test_authorization import join, post
from tests.e2e.test_cli import buildspace
from tests.e2e.test_deploy import host
from tests.support.kafka import partitions
from tests.support.platform import Platform
from tests.support.receiver import Receiver
from tests.support.waiting import eventually_async

NAMES = list(REPLAYABLE)
COLUMNS = ("SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
           "AND NOT attisdropped ORDER BY attnum")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(platform: Platform, project_id: str, files: dict[str, str],
           target: str = "production") -> str:
    """Deploy ``files`` as they are (no build): the deployment's id."""
    blobs = {sha(text.encode()): text.encode() for text in files.values()}
    listed = {path: {"sha256": sha(text.encode()), "size": len(text.encode())}
              for path, text in files.items()}
    with platform.client() as c:
        made = c.post(f"/v1/projects/{project_id}/uploads", json={"files": listed}).json()
        for grant in made["missing"]:
            put = httpx.put(grant["url"], content=blobs[grant["sha256"]],
                            headers=grant["headers"], timeout=30)
            assert put.is_success, put.text
        r = c.post(f"/v1/projects/{project_id}/uploads/{made['upload_id']}/deploy",
                   json={"target": target})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def deployed(platform: Platform, project_id: str, files: dict[str, str],
             status: str = "READY", target: str = "production") -> str:
    deployment_id = upload(platform, project_id, files, target)
    done = platform.wait_status(deployment_id, {"READY", "FAILED"})
    assert done["status"] == status, done
    return deployment_id


def call(platform: Platform, method: str, path: str, **kw: Any) -> Any:
    with platform.client() as c:
        r = c.request(method, path, **kw)
    assert r.status_code < 300, (method, path, r.text)
    return r.json() if r.content else None


def workload(platform: Platform, hooks: Receiver) -> dict[str, str]:
    """Everything the read models record, mostly on one project; the ids to look for."""
    tag = new_id()[:8]
    a = call(platform, "POST", "/v1/projects", json={"name": f"replay-{tag}"})
    b = call(platform, "POST", "/v1/projects", json={"name": f"replay-gone-{tag}"})
    pa, pb = a["id"], b["id"]
    webhook = call(platform, "POST", f"/v1/projects/{pa}/webhooks", json={"url": hooks.url})
    dropped = call(platform, "POST", f"/v1/projects/{pa}/webhooks", json={"url": hooks.url})
    call(platform, "DELETE", f"/v1/projects/{pa}/webhooks/{dropped['id']}")
    call(platform, "POST", f"/v1/projects/{pa}/webhook-secret")
    hook = call(platform, "POST", f"/v1/projects/{pa}/deploy-hooks", json={"name": "CMS"})
    call(platform, "PUT", f"/v1/projects/{pa}/env", json={"vars": {"KEEP": "1", "GONE": "2"}})
    call(platform, "PATCH", f"/v1/projects/{pa}/env", json={"unset": ["GONE"]})
    call(platform, "PATCH", f"/v1/projects/{pa}", json={"output_directory": "public"})
    kept, removed = f"{tag}.verified.test", f"old-{tag}.verified.test"
    for hostname in (kept, removed):
        call(platform, "POST", f"/v1/projects/{pa}/domains", json={"hostname": hostname})
    d1 = deployed(platform, pa, {"index.html": f"<p>one {tag}</p>"})
    d2 = deployed(platform, pa, {"index.html": f"<p>two {tag}</p>"})
    failed = deployed(platform, pa, {"index.html": "x", "_redirects": "/only-a-source\n"},
                      "FAILED")
    preview = deployed(platform, pa, {"index.html": f"<p>preview {tag}</p>"},
                       target="preview")
    call(platform, "POST", f"/v1/projects/{pa}/rollback")
    call(platform, "POST", f"/v1/projects/{pa}/promote", json={"deployment_id": d2})
    call(platform, "DELETE", f"/v1/projects/{pa}/domains/{removed}")
    call(platform, "POST", f"/v1/projects/{pb}/domains", json={"hostname": f"b-{kept}"})
    call(platform, "POST", f"/v1/projects/{pb}/webhooks", json={"url": hooks.url})
    gone = deployed(platform, pb, {"index.html": "<p>gone</p>"})
    call(platform, "DELETE", f"/v1/projects/{pb}")
    return {"project": pa, "deleted": pb, "subdomain": a["subdomain"], "domain": kept,
            "d1": d1, "d2": d2, "failed": failed, "preview": preview, "gone": gone,
            "webhook": webhook["id"], "hook": hook["id"]}


async def _positions(dsn: str, projects: list[str]) -> dict[str, dict[int, int]]:
    """Each projection's positions, and (as "pending") how many webhooks of
    ``projects`` are still to be sent."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch('SELECT projection, partition, "offset" FROM '
                                "projection_positions WHERE topic = 'buildspace.events'")
        pending = await conn.fetchval(
            "SELECT count(*) FROM webhook_outbox o JOIN outgoing_webhooks w USING "
            "(webhook_id) WHERE o.state = 'pending' AND w.project_id = ANY($1::text[])",
            projects)
    finally:
        await conn.close()
    found: dict[str, dict[int, int]] = {"pending": {0: pending}}
    for name, partition, offset in rows:
        found.setdefault(name, {})[partition] = offset
    return found


async def _ends(bootstrap: str) -> dict[int, int]:
    parts = await partitions(bootstrap, "buildspace.events")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return {tp.partition: end - 1 for tp, end in (await consumer.end_offsets(parts)).items()
                if end > 0}
    finally:
        await consumer.stop()


async def settled(platform: Platform, projects: list[str]) -> dict[int, int]:
    """Once the webhooks of ``projects`` are sent and every replayable projection
    applied every event: the topic's last offsets."""
    async def caught_up() -> dict[int, int] | None:
        ends = await _ends(platform.kafka)
        found = await _positions(platform.env["DATABASE_URL"], projects)
        done = found["pending"][0] == 0 and all(found.get(n) == ends for n in NAMES)
        return ends if done else None
    ends = await eventually_async(caught_up, 120, what="the projections caught up",
                                  interval=0.2)
    assert ends is not None
    return ends


async def _dump(dsn: str) -> dict[str, bytes]:
    """Every replayable table, each row in a stable order (by every column), as COPY
    text; the outbox's delivery state; the projections' remembered events."""
    conn = await asyncpg.connect(dsn)
    queries = {t: f"SELECT * FROM {t}" for p in REPLAYABLE.values() for t in p.tables}
    queries["projected_events"] = ("SELECT * FROM projected_events WHERE projection IN "
                                   f"({', '.join(repr(n) for n in NAMES)})")
    queries["webhook_outbox"] = "SELECT delivery_id, state, attempts FROM webhook_outbox"
    try:
        dumped = {}
        for name, query in queries.items():
            width = len(await conn.fetch(COLUMNS, f"public.{name}"))
            if name == "webhook_outbox":
                width = 3
            ordered = f"{query} ORDER BY {', '.join(str(i + 1) for i in range(width))}"
            out = io.BytesIO()
            await conn.copy_from_query(ordered, output=out)
            dumped[name] = out.getvalue()
        return dumped
    finally:
        await conn.close()


async def dump(platform: Platform) -> dict[str, bytes]:
    return await _dump(platform.env["DATABASE_URL"])


def replay(platform: Platform, home: Path, *args: str, token: str | None = None
           ) -> Any:
    return buildspace(platform, home, "replay", *args, token=token or platform.token())


@pytest.mark.asyncio
async def test_a_replay_rebuilds_every_read_model_byte_for_byte(platform: Platform, tmp_path):
    with Receiver() as hooks:
        ids = workload(platform, hooks)
        # A: created + ready for 3 deployments, created + failed, promoted, rolled back;
        # B's webhook may have sent some before the project was deleted.
        hooks.wait(10)
        mine = [ids["project"], ids["deleted"]]

        async def domain_routed() -> bool:  # it follows production once verified
            conn = await asyncpg.connect(platform.env["DATABASE_URL"])
            try:
                return bool(await conn.fetchval(
                    "SELECT count(*) FROM routes WHERE hostname = $1", ids["domain"]))
            finally:
                await conn.close()
        await eventually_async(domain_routed, 60, what="the verified domain's route")
        for _ in range(3):  # until no other test's build appends events meanwhile
            ends = await settled(platform, mine)
            before, sent = await dump(platform), len(hooks.received)
            done = replay(platform, tmp_path, "--json")
            assert done.returncode == 0, done.stdout + done.stderr
            after = await dump(platform)
            if await settled(platform, mine) == ends:
                break
        else:
            raise AssertionError("events kept being appended: no quiet moment to compare")
        assert {t for t in before if before[t] != after[t]} == set()
        assert len(hooks.received) == sent  # nothing sent again

    assert ids["d1"].encode() in before["deployments"]
    assert ids["failed"].encode() in before["deployments"] and b"FAILED" in before["deployments"]
    for table, wanted in (("routes", ids["domain"]), ("routes", ids["preview"]),
                          ("route_production_history", ids["d2"]), ("domains", ids["domain"]),
                          ("outgoing_webhooks", ids["webhook"]), ("deploy_hooks", ids["hook"]),
                          ("webhook_secrets", ids["project"]), ("projects", ids["deleted"]),
                          ("audit", "ProjectDeleted"), ("audit_projects", ids["project"])):
        assert wanted.encode() in before[table], (table, wanted)
    assert f"{ids['subdomain']}\t{ids['project']}\t{ids['d2']}".encode() in before["routes"]
    assert ids["deleted"].encode() not in before["routes"]  # its routes went


@pytest.mark.asyncio
async def test_one_projection_is_replayed_while_the_api_answers(platform: Platform, tmp_path):
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": f"replay-live-{new_id()[:8]}"}).json()
    pid = project["id"]
    first = deployed(platform, pid, {"index.html": "<p>before</p>"})
    await settled(platform, [pid])
    answers: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        with platform.client() as c:
            while not stop.is_set():
                answers.append(c.get(f"/v1/projects/{pid}").status_code)
                answers.append(c.get(f"/v1/projects/{pid}/deployments").status_code)
    asking = threading.Thread(target=ask)
    asking.start()
    try:
        done = replay(platform, tmp_path, "--projection", "routes")
    finally:
        stop.set()
        asking.join()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "routes" in done.stdout and "Swapped in" in done.stdout
    assert answers and set(answers) == {200}, answers

    # The live worker projects into the swapped-in tables, the API reads them.
    second = deployed(platform, pid, {"index.html": "<p>after</p>"})
    with platform.client() as c:
        assert c.get(f"/v1/projects/{pid}").json()["production_deployment_id"] == second
    assert platform.wait_site(host(project["url"])).text == "<p>after</p>"
    assert second != first


@pytest.mark.asyncio
async def test_only_the_instance_owner_replays_and_one_at_a_time(platform: Platform, tmp_path):
    owner = platform.token()
    team = post(platform, owner, "/v1/teams", {"name": f"replay-{new_id()[:6]}"})["id"]
    admin = join(platform, owner, team, f"replay-{new_id()[:8]}@example.test", "admin")
    refused = replay(platform, tmp_path, token=admin)
    assert refused.returncode == 1 and "403" in refused.stderr
    assert "instance owner" in refused.stderr
    reader = post(platform, owner, "/v1/tokens", {"name": "replay-read", "scopes": ["read"]})
    assert "403" in replay(platform, tmp_path, token=reader["token"]).stderr
    unknown = replay(platform, tmp_path, "--projection", "nope")
    assert unknown.returncode == 1 and "routes" in unknown.stderr
    with platform.client() as c:
        assert c.post("/v1/replays", json={"projection": "nope"}).status_code == 422

    conn = await asyncpg.connect(platform.env["DATABASE_URL"])
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", REPLAY_LOCK)
        async with httpx.AsyncClient(base_url=platform.api, headers=platform.auth()) as c:
            busy = await c.post("/v1/replays", json={})
    finally:
        await conn.close()
    assert busy.status_code == 409 and "running already" in busy.text
