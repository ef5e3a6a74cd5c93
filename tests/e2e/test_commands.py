"""Commands over HTTP and Kafka: validation, uniqueness, outcomes, seed APIs."""

from __future__ import annotations

import asyncio
import base64

import httpx
import orjson
import pytest

from schemas.envelope import new_id
from tests.support.kafka import all_records, find_event, first_event, produce, send, topic_size

REPO = "http://127.0.0.1:1/acme/site.git"

BAD_CREATES = [
    ({"name": "s", "git_url": "file:///etc/passwd"}, "git_url"),
    ({"name": "s", "git_url": "ext::sh -c id"}, "git_url"),
    ({"name": "s", "git_url": "ssh://-oProxyCommand=id/x"}, "git_url"),
    ({"name": "s", "git_url": "/srv/git/site.git"}, "git_url"),
    ({"name": "s", "git_url": "-https://github.com/a/b"}, "git_url"),
    ({"name": "s", "git_url": "https://evil.example.com/a/b.git"}, "git_url"),
    ({"name": "x" * 64, "git_url": REPO}, "name"),
    ({"name": 42, "git_url": REPO}, "name"),
    ({"name": "s", "git_url": REPO, "surprise": True}, "surprise"),
    ({"name": "s", "git_url": ""}, "git_url"),  # no git_url at all: a project for uploads
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
def test_bad_input_is_rejected_naming_the_field_and_appends_nothing(platform, body, field):
    before = topic_size(platform.kafka, "buildspace.events")
    with platform.client() as c:
        r = c.post("/v1/projects", json=body)
        assert 400 <= r.status_code < 500, r.text
        error = r.json()["error"]
        assert field in {f["field"] for f in error["fields"]}, error
        assert all(p["name"] != "s" for p in c.get("/v1/projects").json())
    assert topic_size(platform.kafka, "buildspace.events") == before


def test_bad_deployment_requests_append_nothing(platform):
    """Bad input to a project the caller may deploy is 422; an unknown project is 404
    (the policy answers before the body is read)."""
    with platform.client() as c:
        created = c.post("/v1/projects", json={"name": f"bad-{new_id()[:6]}", "git_url": REPO})
        assert created.status_code == 201, created.text
        project = created.json()["id"]
        before = topic_size(platform.kafka, "buildspace.events")
        assert c.post("/v1/projects/nope/deployments").status_code == 404
        assert c.post("/v1/projects/nope/deployments", json={"ref": "--upload-pack=x"}
                      ).status_code == 404
        assert c.post(f"/v1/projects/{project}/deployments", json={"ref": "--upload-pack=x"}
                      ).status_code == 422
        assert c.post(f"/v1/projects/{project}/deployments", content=b"{not json",
                      headers={"content-type": "application/json"}).status_code == 422
    assert topic_size(platform.kafka, "buildspace.events") == before


@pytest.mark.asyncio
async def test_twenty_concurrent_creates_of_one_name_make_exactly_one_project(platform):
    name = f"race-{new_id()[:6]}"

    async with httpx.AsyncClient(base_url=platform.api, timeout=30,
                                 headers=platform.auth()) as c:
        rs = await asyncio.gather(*[
            c.post("/v1/projects", json={"name": name, "git_url": REPO})
            for _ in range(20)])
    assert sorted(r.status_code for r in rs) == [201] + [409] * 19
    with platform.client() as c:
        assert [p["name"] for p in c.get("/v1/projects").json()].count(name) == 1


def test_commands_from_kafka_are_validated_and_answered_with_an_outcome(platform):
    good, bad = new_id(), new_id()
    name = f"from-kafka-{good[:6]}"
    produce(platform.kafka, "buildspace.commands", orjson.dumps(
        {"command_id": good, "command": {"type": "CreateProject", "name": name,
                                         "git_url": REPO}}))
    produce(platform.kafka, "buildspace.commands", orjson.dumps(
        {"command_id": bad, "command": {"type": "CreateProject", "name": name,
                                        "git_url": "file:///etc/passwd"}}))
    produce(platform.kafka, "buildspace.commands", b"this is not json")
    accepted = find_event(platform.kafka, "buildspace.events",
                          lambda e: e.get("command_id") == good)
    assert accepted["type"] == "CommandAccepted"
    rejected = find_event(platform.kafka, "buildspace.events",
                          lambda e: e.get("command_id") == bad)
    assert rejected["type"] == "CommandRejected" and rejected["status"] == 422
    assert "git_url" in rejected["reason"]
    created = find_event(platform.kafka, "buildspace.events",
                         lambda e: e.get("event_id") in accepted["event_ids"])
    assert created["type"] == "ProjectCreated" and created["name"] == name
    # the same command delivered again is not applied twice
    produce(platform.kafka, "buildspace.commands", orjson.dumps(
        {"command_id": good, "command": {"type": "RequestDeployment",
                                         "project_id": created["project_id"]}}))
    with platform.client() as c:
        assert c.get(f"/v1/projects/{created['project_id']}").status_code == 200


@pytest.mark.asyncio
async def test_a_redelivered_command_publishes_its_outcome_once(platform):
    """Accepted or rejected, a command id delivered again appends nothing: no second
    outcome, no second project (the outcome is recorded with the events, in the outbox's
    transaction)."""
    good, bad = new_id(), new_id()
    name = f"twice-{good[:6]}"
    messages = [orjson.dumps({"command_id": good, "command": {
        "type": "CreateProject", "name": name, "git_url": REPO}}),
        orjson.dumps({"command_id": bad, "command": {
            "type": "CreateProject", "name": name + "-bad", "git_url": "file:///x"}})]
    for message in messages * 3:  # one key: one partition, read in this order
        await send(platform.kafka, "buildspace.commands", message, key=b"redelivered")
    marker = new_id()  # a command after them: once its outcome is out, so are theirs
    await send(platform.kafka, "buildspace.commands", orjson.dumps(
        {"command_id": marker, "command": {"type": "CancelDeployment",
                                           "deployment_id": "none"}}), key=b"redelivered")
    await first_event(platform.kafka, "buildspace.events",
                      lambda e: e.get("command_id") == marker)
    records = await all_records(platform.kafka, "buildspace.events", timeout=20)
    outcomes = [(r["type"], r["command_id"]) for r in records
                if r.get("command_id") in (good, bad)]
    assert sorted(outcomes) == sorted([("CommandAccepted", good), ("CommandRejected", bad)])
    assert [r["name"] for r in records if r.get("type") == "ProjectCreated"
            and r.get("name") == name] == [name]


def test_the_seed_systems_deploy_api(platform, git_server):
    url = git_server.make_repo("seed", {"index.html": "<p>seed</p>"})
    with platform.client() as c:
        queued = c.post("/project", json={"gitURL": url, "slug": "seed-one"})
        assert queued.status_code == 200, queued.text
        assert queued.json() == {"status": "queued", "data": {
            "projectSlug": "seed-one",
            "url": f"http://seed-one.localhost:{platform.edge_port}"}}
        named = c.post("/project", json={"name": "seed-two", "gitUrl": url}).json()
        assert named["status"] == "QUEUE" and named["projectSlug"] == "seed-two"
        assert named["url"] == f"http://seed-two.localhost:{platform.edge_port}"
        assert c.post("/project", json={"gitURL": "file:///etc"}).status_code == 422
    platform.wait_status(named["deploymentId"], {"READY"})
    assert platform.wait_site("seed-two.localhost").text == "<p>seed</p>"
    with platform.client() as c:
        raw = c.get(f"/logs/{named['deploymentId']}").json()["rawLogs"]
    assert raw and set(raw[0]) == {"event_id", "deployment_id", "log", "timestamp"}
    assert raw[0]["deployment_id"] == named["deploymentId"]


def test_a_malformed_event_goes_to_the_dead_letter_topic_and_processing_continues(platform):
    marker = new_id()
    produce(platform.kafka, "buildspace.events",
            orjson.dumps({"type": "ProjectCreated", "marker": marker}), key=b"junk")
    letter = find_event(platform.kafka, "buildspace.events.dlq",
                        lambda e: marker.encode() in base64.b64decode(e.get("value") or ""))
    assert "malformed event" in letter["reason"]
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": f"after-dlq-{marker[:6]}", "git_url": REPO})
        assert r.status_code == 201
        assert c.get(f"/v1/projects/{r.json()['id']}").status_code == 200
