"""Deploying from outside against the running platform: signed GitHub pushes, GitLab
push hooks, deploy hook URLs, and what each refuses (appending nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.test_deploy import create, host
from tests.support.kafka import topic_size
from tests.support.platform import Platform

EVENTS = "buildspace.events"
FINAL = {"READY", "FAILED", "CANCELED"}
SITE = {"index.html": "<p>main</p>"}


@contextlib.contextmanager
def appends_nothing(platform: Platform) -> Iterator[None]:
    before = topic_size(platform.kafka, EVENTS)
    yield
    assert topic_size(platform.kafka, EVENTS) == before


def project_with_secret(platform: Platform, git_server: Any, name: str) -> tuple[dict, str]:
    project = create(platform, name, git_server.make_repo(name, SITE))
    with platform.client() as c:
        r = c.post(f"/v1/projects/{project['id']}/webhook-secret")
    assert r.status_code == 201, r.text
    assert r.json()["github_url"].endswith(f"/v1/webhooks/github?project={project['id']}")
    return project, r.json()["secret"]


def push(url: str, branch: str, sha: str, **extra: Any) -> bytes:
    return orjson.dumps({
        "ref": f"refs/heads/{branch}", "before": "1" * 40, "after": sha, "deleted": False,
        "repository": {"clone_url": url, "html_url": url.removesuffix(".git")},
        "head_commit": {"id": sha}} | extra)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github(platform: Platform, body: bytes, secret: str | None, event: str = "push",
           delivery: str | None = None, **params: str) -> httpx.Response:
    headers = {"content-type": "application/json", "x-github-event": event,
               "x-github-delivery": delivery or str(uuid.uuid4())}
    if secret is not None:
        headers["x-hub-signature-256"] = signature(secret, body)
    with platform.client() as c:
        return c.post("/v1/webhooks/github", content=body, headers=headers, params=params)


def test_a_signed_push_deploys_the_pushed_commit_to_production_once(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "hooked")
    url = project["git_url"]
    sha = git_server.commit("hooked", {"index.html": "<p>pushed</p>"})
    body, delivery = push(url, "main", sha), str(uuid.uuid4())
    r = github(platform, body, secret, delivery=delivery)
    assert r.status_code == 202, r.text
    [deployed] = r.json()["deployments"]
    assert (deployed["project_id"], deployed["branch"], deployed["target"]) == \
        (project["id"], "main", "production")
    done = platform.wait_status(deployed["deployment_id"], FINAL)
    assert done["status"] == "READY" and done["commit_sha"] == sha, done
    assert (done["branch"], done["target"]) == ("main", "production")
    assert platform.wait_site(host(project["url"])).text == "<p>pushed</p>"

    with appends_nothing(platform):  # redelivered, or replayed under another id
        again = github(platform, body, secret, delivery=delivery)
        assert again.status_code == 200 and again.json()["duplicate"] is True
        replayed = github(platform, body, secret)
        assert replayed.status_code == 200 and replayed.json()["duplicate"] is True
    with platform.client() as c:
        listed = c.get(f"/v1/projects/{project['id']}/deployments").json()
    assert [d["id"] for d in listed] == [deployed["deployment_id"]]


@pytest.mark.asyncio
async def test_concurrent_redeliveries_deploy_once(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "raced-hook")
    body = push(project["git_url"], "main", git_server.head("raced-hook"))
    headers = {"x-github-event": "push", "x-github-delivery": str(uuid.uuid4()),
               "x-hub-signature-256": signature(secret, body)}

    async with httpx.AsyncClient(base_url=platform.api, timeout=30) as c:
        answers = await asyncio.gather(*[
            c.post("/v1/webhooks/github", content=body, headers=headers)
            for _ in range(8)])
    assert sorted(r.status_code for r in answers) == [200] * 7 + [202]
    accepted = next(r for r in answers if r.status_code == 202).json()
    platform.wait_status(accepted["deployments"][0]["deployment_id"], FINAL)


def test_a_push_to_another_branch_makes_a_preview_deployment(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "previewed")
    sha = git_server.commit("previewed", {"index.html": "<p>login</p>"}, branch="feature/Login")
    r = github(platform, push(project["git_url"], "feature/Login", sha), secret,
               project=project["id"])
    assert r.status_code == 202, r.text
    [deployed] = r.json()["deployments"]
    assert (deployed["branch"], deployed["target"]) == ("feature/Login", "preview")
    done = platform.wait_status(deployed["deployment_id"], FINAL)
    assert done["status"] == "READY" and done["commit_sha"] == sha, done
    assert (done["branch"], done["target"]) == ("feature/Login", "preview")
    preview = f"feature-login-{project['subdomain']}.localhost"
    assert platform.wait_site(preview).text == "<p>login</p>"
    with platform.client() as c:
        assert c.get(f"/v1/projects/{project['id']}").json()["production_deployment_id"] is None


def test_bad_or_missing_signatures_are_refused_and_append_nothing(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "guarded")
    other, other_secret = project_with_secret(platform, git_server, "guarded-other")
    body = push(project["git_url"], "main", git_server.head("guarded"))
    unknown = push("http://127.0.0.1:1/nobody.git", "main", "b" * 40)
    with appends_nothing(platform), platform.client() as c:
        missing = [
            github(platform, body, None),
            c.post("/v1/webhooks/github", content=body, headers={
                "x-github-event": "push", "x-hub-signature-256": "sha1=" + "0" * 40}),
        ]
        wrong = [
            github(platform, body, "wrong-secret"),
            github(platform, body, other_secret),
            github(platform, body, secret, project=other["id"]),
            github(platform, unknown, secret),
            github(platform, body, "wrong-secret", event="ping"),
            c.post("/v1/webhooks/github", content=body, headers={
                "x-github-event": "push",
                "x-hub-signature-256": signature(secret, body + b"\n")}),
        ]
        # The other project's own secret, but the payload names this project's repository.
        foreign = github(platform, body, other_secret, project=other["id"])
    assert [r.status_code for r in missing + wrong] == [401] * (len(missing) + len(wrong))
    assert len({r.text for r in wrong}) == 1  # a project matched or not: the same answer
    assert foreign.status_code == 202 and "repository" in foreign.json()["reason"]


def test_ping_other_events_tags_deletions_and_malformed_json(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "pinged")
    url = project["git_url"]
    ping = orjson.dumps({"zen": "Keep it logically awesome.", "hook_id": 1,
                         "repository": {"clone_url": url}})
    with appends_nothing(platform):
        pong = github(platform, ping, secret, event="ping")
        assert pong.status_code == 200 and pong.json()["ok"] is True
        assert github(platform, ping, "nope", event="ping").status_code == 401
        issue = github(platform, ping, secret, event="issues")
        assert issue.status_code == 202 and issue.json()["ignored"] is True
        tag = github(platform, orjson.dumps({"ref": "refs/tags/v1", "after": "c" * 40,
                                             "repository": {"clone_url": url}}), secret)
        assert tag.status_code == 202 and "tag" in tag.json()["reason"]
        gone = github(platform, push(url, "old", "0" * 40, deleted=True), secret)
        assert gone.status_code == 202 and "deleted" in gone.json()["reason"]
        broken = b'{"ref": "refs/heads/main", "after": '
        assert github(platform, broken, secret, project=project["id"]).status_code == 400
        assert github(platform, b"[1, 2]", secret, project=project["id"]).status_code == 400
        assert github(platform, broken, secret).status_code == 401  # no project to verify


def test_a_huge_body_is_refused_before_it_is_read(platform):
    huge = b"{" + b" " * (1024 * 1024) + b"}"
    with appends_nothing(platform), platform.client() as c:
        assert c.post("/v1/webhooks/github", content=huge).status_code == 413
        chunked = c.post("/v1/webhooks/gitlab", content=iter([huge[:600_000], huge[600_000:]]))
        assert chunked.status_code == 413


def test_a_rotated_secret_refuses_the_old_one(platform, git_server):
    project, old = project_with_secret(platform, git_server, "rotated")
    with platform.client() as c:
        new = c.post(f"/v1/projects/{project['id']}/webhook-secret").json()["secret"]
        hooks = c.get(f"/v1/projects/{project['id']}/hooks").json()
    assert new != old and hooks["secret_set"] is True
    assert "secret" not in hooks
    ping = orjson.dumps({"repository": {"clone_url": project["git_url"]}})
    assert github(platform, ping, old, event="ping").status_code == 401
    assert github(platform, ping, new, event="ping").status_code == 200


def gitlab(platform: Platform, body: bytes, token: str, event: str = "Push Hook",
           uuid_: str | None = None) -> httpx.Response:
    headers = {"x-gitlab-token": token, "x-gitlab-event": event,
               "x-gitlab-event-uuid": uuid_ or str(uuid.uuid4())}
    with platform.client() as c:
        return c.post("/v1/webhooks/gitlab", content=body, headers=headers)


def test_a_gitlab_push_hook_deploys_once(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "labbed")
    sha = git_server.commit("labbed", {"index.html": "<p>lab</p>"}, branch="dev")
    body = orjson.dumps({
        "object_kind": "push", "ref": "refs/heads/dev", "before": "1" * 40, "after": sha,
        "checkout_sha": sha, "project": {"git_http_url": project["git_url"]}})
    with appends_nothing(platform):
        assert gitlab(platform, body, "wrong").status_code == 401
        assert gitlab(platform, body, "").status_code == 401
        tag = gitlab(platform, body, secret, event="Tag Push Hook")
        assert tag.status_code == 202 and tag.json()["ignored"] is True
    delivery = str(uuid.uuid4())
    r = gitlab(platform, body, secret, uuid_=delivery)
    assert r.status_code == 202, r.text
    [deployed] = r.json()["deployments"]
    assert (deployed["branch"], deployed["target"]) == ("dev", "preview")
    done = platform.wait_status(deployed["deployment_id"], FINAL)
    assert done["status"] == "READY" and done["commit_sha"] == sha, done
    with appends_nothing(platform):
        again = gitlab(platform, body, secret, uuid_=delivery)
        assert again.status_code == 200 and again.json()["duplicate"] is True


def test_a_deploy_hook_deploys_is_rate_limited_and_can_be_revoked(platform, git_server):
    project = create(platform, "hooked-cms", git_server.make_repo("hooked-cms", SITE))
    with platform.client() as c:
        made = c.post(f"/v1/projects/{project['id']}/deploy-hooks", json={"name": "CMS"})
        assert made.status_code == 201, made.text
        hook = made.json()
        assert "/v1/hooks/" in hook["url"] and hook["branch"] is None
        listed = c.get(f"/v1/projects/{project['id']}/hooks").json()
        assert [h["id"] for h in listed["deploy_hooks"]] == [hook["id"]]
        assert "url" not in listed["deploy_hooks"][0] and listed["secret_set"] is False
        path = "/v1/hooks/" + hook["url"].rsplit("/v1/hooks/", 1)[1]
        answers = [c.post(path) for _ in range(4)]
        assert [r.status_code for r in answers] == [202, 202, 202, 429]
        assert int(answers[3].headers["retry-after"]) >= 1
        assert answers[3].json()["error"]["code"] == "rate_limited"
        for r in answers[:3]:
            assert r.json()["project_id"] == project["id"]
            platform.wait_status(r.json()["id"], FINAL)
        assert c.post("/v1/hooks/not-a-hook").status_code == 404
        assert c.delete(f"/v1/projects/{project['id']}/deploy-hooks/{hook['id']}"
                        ).status_code == 204
        with appends_nothing(platform):
            assert c.post(path).status_code == 404
            assert c.delete(f"/v1/projects/{project['id']}/deploy-hooks/{hook['id']}"
                            ).status_code == 404
        assert c.get(f"/v1/projects/{project['id']}/hooks").json()["deploy_hooks"] == []


def test_a_deploy_hook_for_a_branch_makes_a_preview(platform, git_server):
    project = create(platform, "hooked-branch", git_server.make_repo("hooked-branch", SITE))
    sha = git_server.commit("hooked-branch", {"index.html": "<p>staging</p>"}, branch="staging")
    with platform.client() as c:
        hook = c.post(f"/v1/projects/{project['id']}/deploy-hooks",
                      json={"name": "nightly", "branch": "staging"}).json()
        r = c.post("/v1/hooks/" + hook["url"].rsplit("/v1/hooks/", 1)[1])
        assert r.status_code == 202, r.text
        bad = c.post(f"/v1/projects/{project['id']}/deploy-hooks",
                     json={"name": "x", "branch": "--upload-pack=x"})
        assert bad.status_code == 422
    done = platform.wait_status(r.json()["id"], FINAL)
    assert done["status"] == "READY" and done["commit_sha"] == sha
    assert (done["branch"], done["target"]) == ("staging", "preview")


def test_a_deleted_project_is_deployed_by_no_hook(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "hooked-gone")
    with platform.client() as c:
        hook = c.post(f"/v1/projects/{project['id']}/deploy-hooks", json={"name": "x"}).json()
        assert c.delete(f"/v1/projects/{project['id']}").status_code == 202
    body = push(project["git_url"], "main", git_server.head("hooked-gone"))
    with appends_nothing(platform), platform.client() as c:
        assert c.post("/v1/hooks/" + hook["url"].rsplit("/v1/hooks/", 1)[1]).status_code == 404
        gone = github(platform, body, secret, project=project["id"])
        assert gone.status_code == 202 and gone.json()["ignored"] is True
