"""Outgoing webhooks end to end: a receiver on 127.0.0.1 gets the deployment's events,
signed; a failing receiver is retried with backoff and the delivery log shows every
attempt; the event filter holds; a removed webhook gets nothing more."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from schemas.envelope import new_id
from tests.e2e.test_lifecycle import deploy, page
from tests.support.gitserver import GitServer
from tests.support.platform import Platform
from tests.support.receiver import Received, Receiver
from tests.support.waiting import eventually


def project(platform: Platform, git_server: GitServer) -> str:
    name = f"hooks-{new_id()[:8]}"
    url = git_server.make_repo(name, page(name))
    with platform.client() as c:
        r = c.post("/v1/projects", json={"name": name, "git_url": url})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def add_webhook(platform: Platform, project_id: str, url: str, **body: Any) -> dict[str, Any]:
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project_id}/webhooks", json={"url": url, **body})
        assert r.status_code == 201, r.text
        return dict(r.json())


def deliveries(platform: Platform, project_id: str, webhook_id: str) -> list[dict[str, Any]]:
    with platform.client() as c:
        r = c.get(f"/v1/projects/{project_id}/webhooks/{webhook_id}/deliveries")
        assert r.status_code == 200, r.text
        return list(r.json())


def wait_deliveries(platform: Platform, project_id: str, webhook_id: str, count: int,
                    state: str = "succeeded", timeout: float = 30) -> list[dict[str, Any]]:
    seen: list[list[dict[str, Any]]] = []

    def done() -> bool:
        seen.append(deliveries(platform, project_id, webhook_id))
        return len([d for d in seen[-1] if d["state"] == state]) >= count
    try:
        eventually(done, timeout, what=f"{count} {state} deliveries", interval=0.05)
    except AssertionError:
        raise AssertionError(f"not {count} {state} deliveries in {timeout} s: {seen[-1]}"
                             ) from None
    return seen[-1]


def signed(received: Received, secret: str) -> bool:
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(received.headers["x-buildspace-signature-256"],
                               f"sha256={expected}")


def test_a_deploy_sends_created_then_ready_signed(platform: Platform, git_server: GitServer):
    pid = project(platform, git_server)
    with Receiver() as receiver:
        hook = add_webhook(platform, pid, receiver.url)
        assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
        assert hook["events"] == ["deployment.created", "deployment.ready",
                                  "deployment.failed", "deployment.promoted",
                                  "deployment.rolled_back"]
        with platform.client() as c:
            listed = c.get(f"/v1/projects/{pid}/webhooks").json()
        assert [(h["id"], h["url"]) for h in listed] == [(hook["id"], receiver.url)]
        assert hook["secret"] not in json.dumps(listed)

        done = deploy(platform, pid)
        created, ready = receiver.wait(2)
    for got, kind in ((created, "deployment.created"), (ready, "deployment.ready")):
        assert signed(got, hook["secret"]), got.headers
        payload = json.loads(got.body)
        assert got.headers["x-buildspace-event"] == kind == payload["type"]
        assert got.headers["content-type"] == "application/json"
        assert payload["project_id"] == pid and payload["deployment"]["id"] == done["id"]
        assert payload["deployment"]["url"] == done["url"]
        assert set(payload) == {"id", "type", "created_at", "project_id", "deployment"}
    assert json.loads(ready.body)["deployment"]["status"] == "READY"
    assert json.loads(ready.body)["deployment"]["commit_sha"] == done["commit_sha"]
    assert not signed(created, "whsec_another")

    log = wait_deliveries(platform, pid, hook["id"], 2)
    assert [d["type"] for d in log] == ["deployment.ready", "deployment.created"]
    assert {d["id"] for d in log} == {created.headers["x-buildspace-delivery"],
                                      ready.headers["x-buildspace-delivery"]}
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["status_code"] == 200
               for d in log)


def test_a_failing_receiver_is_retried_and_the_filter_holds(platform: Platform,
                                                            git_server: GitServer):
    pid = project(platform, git_server)
    with Receiver(statuses=[500, 503]) as flaky, Receiver() as everything:
        only_created = add_webhook(platform, pid, flaky.url, events=["deployment.created"])
        assert only_created["events"] == ["deployment.created"]
        control = add_webhook(platform, pid, everything.url)
        deploy(platform, pid)
        attempts = flaky.wait(3)
        everything.wait(2)  # ready was projected: the filtered webhook skipped it

    assert [a.status for a in attempts] == [500, 503, 200]
    assert len({a.headers["x-buildspace-delivery"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1  # the same bytes every time
    log = wait_deliveries(platform, pid, only_created["id"], 1)
    assert [(d["type"], d["state"]) for d in log] == [("deployment.created", "succeeded")]
    tries = log[0]["attempts"]
    assert [t["status_code"] for t in tries] == [500, 503, 200]
    assert [t["attempt"] for t in tries] == [1, 2, 3]
    assert "500" in tries[0]["error"] and tries[2]["error"] is None
    assert tries[0]["next_retry_at"] and tries[1]["next_retry_at"]
    assert tries[2]["next_retry_at"] is None
    assert all(t["duration_ms"] >= 0 for t in tries)
    assert len(wait_deliveries(platform, pid, control["id"], 2)) == 2


def test_a_removed_webhook_gets_nothing_more(platform: Platform, git_server: GitServer):
    pid = project(platform, git_server)
    with Receiver() as removed, Receiver() as kept:
        gone = add_webhook(platform, pid, removed.url)
        add_webhook(platform, pid, kept.url, events=["deployment.ready"])
        with platform.client() as c:
            r = c.delete(f"/v1/projects/{pid}/webhooks/{gone['id']}")
            assert r.status_code == 204, r.text
            assert c.delete(f"/v1/projects/{pid}/webhooks/{gone['id']}").status_code == 404
            assert [h["url"] for h in c.get(f"/v1/projects/{pid}/webhooks").json()] == [
                kept.url]
        deploy(platform, pid)
        kept.wait(1)
        assert removed.received == []


def test_bad_webhooks_are_refused(platform: Platform, git_server: GitServer):
    pid = project(platform, git_server)
    with platform.client() as c:
        for body in ({"url": "ftp://example.com/hook"}, {"url": "not a url"},
                     {"url": "https://user:pw@example.com/"}, {"url": ""},
                     {"url": "https://example.com/", "events": ["deployment.exploded"]},
                     {"url": "https://example.com/", "events": []},
                     {"url": "https://example.com/", "extra": 1}):
            r = c.post(f"/v1/projects/{pid}/webhooks", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["error"]["code"] == "invalid"
        r = c.post("/v1/projects/nope/webhooks", json={"url": "https://example.com/"})
        assert r.status_code == 404
        assert c.get(f"/v1/projects/{pid}/webhooks/nope/deliveries").status_code == 404
        assert c.get(f"/v1/projects/{pid}/webhooks").json() == []
