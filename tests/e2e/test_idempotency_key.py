"""``Idempotency-Key``: a retried command returns the first answer and appends nothing;
the same key for another request, concurrent duplicates and bad keys are refused; the
stored answer of a request that made a secret does not hold it in clear."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest

from tests.e2e.test_deploy import create
from tests.support.kafka import all_records
from tests.support.platform import Platform


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"retry-{uuid.uuid4().hex}"}


async def events_about(platform: Platform, kind: str, value: str) -> list[dict]:
    records = await all_records(platform.kafka, "buildspace.events", timeout=20)
    return [r for r in records if r.get("type") == kind and value in str(r)]


@pytest.mark.asyncio
async def test_a_retried_command_returns_the_first_answer_and_appends_nothing(platform, git_server):
    project = create(platform, "Idem Site", git_server.make_repo("idem", {"index.html": "x"}))
    hostname = f"{uuid.uuid4().hex[:10]}.example.org"
    sent = key()
    with platform.client() as c:
        path = f"/v1/projects/{project['id']}/domains"
        first = c.post(path, json={"hostname": hostname}, headers=sent)
        assert first.status_code == 201, first.text
        again = c.post(path, json={"hostname": hostname}, headers=sent)
        assert (again.status_code, again.json()) == (201, first.json())
        assert again.headers["idempotent-replayed"] == "true"
        # Without the key the same body is a new command: refused, the name is taken.
        assert c.post(path, json={"hostname": hostname}).status_code == 409
        other = c.post(path, json={"hostname": "other-" + hostname}, headers=sent)
        assert other.status_code == 422 and "different request" in other.text
        listed = [d["hostname"] for d in c.get(path).json()]
    assert listed.count(hostname) == 1 and "other-" + hostname not in listed
    assert len(await events_about(platform, "DomainAdded", hostname)) == 1


def test_concurrent_duplicates_make_one_deployment(platform, git_server):
    project = create(platform, "Idem Race", git_server.make_repo("idem-race",
                                                                 {"index.html": "x"}))
    sent = key()

    def post(_: int) -> httpx.Response:
        with platform.client() as c:
            return c.post(f"/v1/projects/{project['id']}/deployments", headers=sent)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(post, range(6)))
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {202, 409} and 202 in codes, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1  # every 202 is the first answer
    with platform.client() as c:  # a retry now gets that answer too
        assert c.post(f"/v1/projects/{project['id']}/deployments",
                      headers=sent).json()["id"] in ids
        deployments = c.get(f"/v1/projects/{project['id']}/deployments").json()
    assert [d["id"] for d in deployments] == list(ids)


def test_bad_keys_are_refused_and_change_nothing(platform):
    with platform.client() as c:
        for bad in (b"", b"x" * 256, b"with space", "caf\u00e9".encode()):
            r = c.post("/v1/tokens", json={"name": "never", "scopes": ["read"]},
                       headers={b"Idempotency-Key": bad})
            assert r.status_code == 422 and "Idempotency-Key" in r.text, (bad, r.text)
        names = [t["name"] for t in c.get("/v1/tokens").json()]
    assert "never" not in names
    with platform.anonymous() as c:  # a key needs a credential to be scoped to
        r = c.post("/v1/auth/login", json={"email": "a@b.c", "password": "x"}, headers=key())
        assert r.status_code == 422 and "signed-in" in r.text


@pytest.mark.asyncio
async def test_a_stored_answer_holding_a_secret_is_encrypted(platform):
    sent = key()
    with platform.client() as c:
        made = c.post("/v1/tokens", json={"name": "idem-token", "scopes": ["read"]},
                      headers=sent)
        assert made.status_code == 201, made.text
        again = c.post("/v1/tokens", json={"name": "idem-token", "scopes": ["read"]},
                       headers=sent)
        assert again.json()["token"] == made.json()["token"]
        assert [t["name"] for t in c.get("/v1/tokens").json()].count("idem-token") == 1

    conn = await asyncpg.connect(platform.env["DATABASE_URL"])
    try:
        answers = [r["answer"] for r in await conn.fetch(
            "SELECT answer FROM idempotency_keys WHERE key = $1", sent["Idempotency-Key"])]
    finally:
        await conn.close()
    assert len(answers) == 1 and made.json()["token"] not in answers[0]
