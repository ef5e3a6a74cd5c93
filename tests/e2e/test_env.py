"""Build variables through the running platform: ``PATCH .../env`` changes the variables
it names and keeps the others, the next build sees the result, ``GET .../env/values``
shows the values to the team's admins only, and a refused change changes nothing."""

from __future__ import annotations

import json
import os

import asyncpg
import pytest

from tests.e2e.test_authorization import join, post
from tests.e2e.test_deploy import create, deploy, host
from tests.support.kafka import all_records, end_offsets
from tests.support.platform import Platform
from tests.support.waiting import eventually_async

MASKED = "••••••••"
PRINT_ENV = ("mkdir -p dist && node -e \"const e = process.env; require('fs').writeFileSync("
             "'dist/index.html', [e.KEEP, e.CHANGED, e.GONE || 'unset', e.ADDED].join(':'))\"")


def values(platform: Platform, project_id: str, token: str | None = None) -> dict[str, str]:
    with platform.client(token) as c:
        r = c.get(f"/v1/projects/{project_id}/env/values")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    found: dict[str, str] = r.json()["vars"]
    return found


@pytest.mark.asyncio
async def test_a_change_keeps_the_other_variables_and_the_next_build_sees_it(platform: Platform,
                                                                             git_server):
    site = {"package.json": json.dumps({"name": "env-patch", "private": True,
                                        "scripts": {"build": PRINT_ENV}})}
    project = create(platform, "env-patch", git_server.make_repo("env-patch", site))
    path = f"/v1/projects/{project['id']}/env"
    secret = "s3cr3t " + os.urandom(6).hex()
    with platform.client() as c:
        assert c.put(path, json={"vars": {"KEEP": "k", "CHANGED": "old", "GONE": "g"}}
                     ).status_code == 200
        r = c.patch(path, json={"set": {"CHANGED": "new", "ADDED": secret},
                                "unset": ["GONE"]})
        assert r.status_code == 200, r.text
        assert r.json() == {"project_id": project["id"],
                            "vars": {"ADDED": MASKED, "CHANGED": MASKED, "KEEP": MASKED}}
        assert c.get(path).json()["vars"] == r.json()["vars"]
    assert values(platform, project["id"]) == {"ADDED": secret, "CHANGED": "new", "KEEP": "k"}

    accepted = deploy(platform, project["id"])
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    assert platform.wait_site(host(project["url"])).text == f"k:new:unset:{secret}"
    assert secret not in platform.log_path.read_text(errors="replace")
    events = await all_records(platform.kafka, "buildspace.events")
    assert not any(secret in json.dumps(e) for e in events)


@pytest.mark.asyncio
async def test_a_refused_change_changes_nothing(platform: Platform):
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "env-refused"}).json()
        path = f"/v1/projects/{project['id']}/env"
        full = {f"V{i}": "1" for i in range(199)}
        assert c.put(path, json={"vars": full}).status_code == 200
        before = await end_offsets(platform.kafka, "buildspace.events")
        for body, status, field in (
            ({"set": {"V1": "2"}, "unset": ["V1"]}, 422, "unset"),
            ({"unset": ["V1", "TYPO"]}, 404, "unset"),
            ({"set": {"PATH": "/evil", "V1": "2"}}, 422, "set"),
            ({"set": {"V1": "nul\x00"}}, 422, "set"),
            ({"set": {"NEW1": "1", "NEW2": "2"}}, 422, "set"),  # 201 with the others
            ({"set": {"BIG": "x" * 65000}}, 422, "set"),  # over 64 KiB with the others
            ({}, 422, "body"),
            ({"vars": {"V1": "2"}}, 422, "vars"),
        ):
            r = c.patch(path, json=body)
            assert r.status_code == status, (body, r.text)
            assert r.json()["error"]["fields"][0]["field"] == field, (body, r.text)
        assert "TYPO" in c.patch(path, json={"unset": ["TYPO"]}).json()["error"]["message"]
        assert c.patch("/v1/projects/nope/env", json={"unset": ["V1"]}).status_code == 404
    assert await end_offsets(platform.kafka, "buildspace.events") == before
    assert values(platform, project["id"]) == full


def test_only_admins_read_the_values_and_viewers_change_nothing(platform: Platform):
    owner = platform.token()
    team = post(platform, owner, "/v1/teams", {"name": "env-crew"})["id"]
    with platform.client() as c:
        project = c.post("/v1/projects", params={"team_id": team},
                         json={"name": "env-crew-site"}).json()["id"]
        assert c.put(f"/v1/projects/{project}/env", json={"vars": {"A": "1"}}
                     ).status_code == 200
    member = join(platform, owner, team, "env-member@crew.test", "member")
    viewer = join(platform, owner, team, "env-viewer@crew.test", "viewer")
    admin = join(platform, owner, team, "env-admin@crew.test", "admin")
    with platform.client(member) as c:
        assert c.get(f"/v1/projects/{project}/env/values").status_code == 403
        assert c.get(f"/v1/projects/{project}/env").json()["vars"] == {"A": MASKED}
    with platform.client(viewer) as c:
        assert c.patch(f"/v1/projects/{project}/env", json={"set": {"B": "2"}}
                       ).status_code == 403
    with platform.client(admin) as c:
        assert c.patch(f"/v1/projects/{project}/env", json={"set": {"B": "2"}}
                       ).status_code == 200
    assert values(platform, project, admin) == {"A": "1", "B": "2"}


async def forget_own_ciphertext(dsn: str, project_id: str) -> bool:
    """The project's state as saved before it kept its variables' ciphertext, once the
    build queue has the ciphertext; False until then."""
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT 1 FROM build_env WHERE project_id = $1", project_id):
            await conn.execute("UPDATE cmd_streams SET state = state - 'env_ciphertext' "
                               "WHERE stream_id = $1", project_id)
            return True
        return False
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_variables_set_before_the_state_kept_them_are_not_lost(platform: Platform):
    with platform.client() as c:
        project = c.post("/v1/projects", json={"name": "env-legacy"}).json()["id"]
        assert c.put(f"/v1/projects/{project}/env", json={"vars": {"OLD": "o"}}
                     ).status_code == 200
    dsn = platform.env["DATABASE_URL"]
    await eventually_async(lambda: forget_own_ciphertext(dsn, project),
                           what="the build queue has the variables")
    assert values(platform, project) == {"OLD": "o"}
    with platform.client() as c:
        assert c.patch(f"/v1/projects/{project}/env", json={"set": {"NEW": "n"}}
                       ).status_code == 200
    assert values(platform, project) == {"NEW": "n", "OLD": "o"}
