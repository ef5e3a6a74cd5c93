"""Every kind of caller against the running API: anonymous, another team's user, each
role of the team (viewer, member, admin, owner), a read-only token and a token for
another project. Inside the team, too small a role or scope is 403; outside it, every
resource is 404, so its existence does not leak; without a valid token, 401.

An allowed request is sent with a body the route refuses (422) or in a state it
refuses (409) wherever the route would otherwise change something, so the matrix
changes nothing but what it means to."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.test_deploy import deploy
from tests.support.platform import Platform

DENIED = {401, 403, 404}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    needs: str  # read, deploy, write or admin
    json: object = None


CALLS = [
    Call("GET", "/v1/projects/{P}", "read"), Call("GET", "/v1/projects/{P}/env", "read"),
    Call("GET", "/v1/projects/{P}/deployments", "read"),
    Call("GET", "/v1/projects/{P}/analytics", "read"),
    Call("GET", "/v1/projects/{P}/domains", "read"),
    Call("GET", "/v1/projects/{P}/hooks", "read"),
    Call("GET", "/v1/projects/{P}/webhooks", "read"),
    Call("GET", "/v1/deployments/{D}", "read"), Call("GET", "/v1/deployments/{D}/logs", "read"),
    Call("GET", "/logs/{D}", "read"), Call("GET", "/v1/teams/{T}/members", "read"),
    Call("POST", "/v1/projects/{P}/deployments", "deploy", {"ref": "--upload-pack=x"}),
    Call("POST", "/v1/deployments/{D}/cancel", "deploy"),  # final already: 409
    Call("POST", "/v1/deployments/{D}/redeploy", "deploy", {"build_cache": "maybe"}),
    Call("POST", "/v1/projects/{P}/promote", "deploy", {"deployment_id": ""}),
    Call("POST", "/v1/projects/{P}/rollback", "deploy", {"deployment_id": ""}),
    Call("POST", "/v1/projects/{P}/uploads", "deploy", {"files": {}}),
    Call("PATCH", "/v1/projects/{P}", "write", {"root_directory": "x" * 300}),
    Call("PUT", "/v1/projects/{P}/env", "write", {"vars": "not a map"}),
    Call("PATCH", "/v1/projects/{P}/env", "write", {"set": "not a map"}),
    Call("GET", "/v1/projects/{P}/env/values", "admin"),
    Call("POST", "/v1/projects/{P}/domains", "write", {"hostname": ""}),
    Call("POST", "/v1/projects/{P}/deploy-hooks", "write", {"name": ""}),
    Call("POST", "/v1/projects/{P}/webhooks", "write", {"url": "not a url"}),
    Call("POST", "/v1/teams/{T}/invitations", "admin", {"email": "not an email"}),
    Call("PATCH", "/v1/teams/{T}/members/{U}", "admin", {"role": "emperor"}),
]
ROLE_MAY = {"viewer": {"read"}, "member": {"read", "deploy"},
            "admin": {"read", "deploy", "write", "admin"},
            "owner": {"read", "deploy", "write", "admin"}}


@dataclass
class World:
    team: str
    project: str
    other_project: str
    deployment: str
    member_id: str
    tokens: dict[str, str | None]  # caller -> token (None: anonymous)


def post(platform: Platform, token: str, path: str, json: object = None) -> dict:
    with platform.client(token) as c:
        r = c.post(path, json=json)
    assert r.status_code in (200, 201, 202), (path, r.text)
    return r.json() if r.content else {}


def join(platform: Platform, owner: str, team: str, email: str, role: str) -> str:
    """A new user in ``team`` with ``role``, through an invitation: their session."""
    invited = post(platform, owner, f"/v1/teams/{team}/invitations",
                   {"email": email, "role": role})
    with platform.anonymous() as c:
        r = c.post("/v1/auth/signup", json={"email": email, "password": "a long password",
                                            "invitation": invited["invitation"]})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


@pytest.fixture(scope="module")
def world(platform: Platform, git_server) -> World:
    owner = platform.token()
    team = post(platform, owner, "/v1/teams", {"name": "acme"})["id"]
    other = post(platform, owner, "/v1/teams", {"name": "elsewhere"})["id"]
    url = git_server.make_repo("authz-site", {"index.html": "<p>authz</p>"})
    with platform.client() as c:
        made = [c.post("/v1/projects", params={"team_id": team},
                       json={"name": name, "git_url": url}) for name in ("authz", "authz-2")]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    project, other_project = (r.json()["id"] for r in made)
    accepted = deploy(platform, project)
    platform.wait_status(accepted["id"], {"READY", "FAILED"})
    tokens: dict[str, str | None] = {"anonymous": None, "owner": owner}
    for role in ("viewer", "member", "admin"):
        tokens[role] = join(platform, owner, team, f"{role}@acme.test", role)
    tokens["outsider"] = join(platform, owner, other, "outsider@elsewhere.test", "admin")
    tokens["read token"] = post(platform, owner, "/v1/tokens", {
        "name": "reader", "scopes": ["read"], "team_id": team})["token"]
    tokens["other project's token"] = post(platform, owner, "/v1/tokens", {
        "name": "narrow", "scopes": ["read", "deploy", "write", "admin"],
        "project_id": other_project})["token"]
    with platform.client() as c:
        members = c.get(f"/v1/teams/{team}/members").json()
    member_id = next(m["user_id"] for m in members if m["role"] == "member")
    return World(team, project, other_project, accepted["id"], member_id, tokens)


def expected(caller: str, needs: str) -> int | None:
    """The status a caller must get, or None where it may pass."""
    if caller == "anonymous":
        return 401
    if caller in ("outsider", "other project's token"):
        return 404
    if caller == "read token":
        return None if needs == "read" else 403
    return None if needs in ROLE_MAY[caller] else 403


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method} {c.path}")
def test_each_caller_gets_what_its_role_and_token_allow(platform: Platform, world: World,
                                                        call: Call):
    path = call.path.format(P=world.project, D=world.deployment, T=world.team,
                            U=world.member_id)
    for caller, token in world.tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=platform.api, timeout=30, headers=headers) as c:
            r = c.request(call.method, path, json=call.json)
        want = expected(caller, call.needs)
        if want is None:
            assert r.status_code not in DENIED, (caller, r.status_code, r.text)
        else:
            assert r.status_code == want, (caller, r.status_code, r.text)


def test_lists_show_only_what_the_caller_may_read(platform: Platform, world: World):
    def names(caller: str) -> set[str]:
        token = world.tokens[caller]
        assert token is not None
        with platform.client(token) as c:
            return {p["id"] for p in c.get("/v1/projects", params={"limit": 5000}).json()}
    assert {world.project, world.other_project} <= names("viewer")
    assert world.project not in names("outsider")
    assert names("other project's token") == {world.other_project}
    assert {world.project, world.other_project} <= names("read token")


def test_deleting_a_project_needs_the_admin_role(platform: Platform, world: World,
                                                 git_server):
    url = git_server.make_repo("authz-doomed", {"index.html": "x"})
    with platform.client() as c:
        made = c.post("/v1/projects", params={"team_id": world.team},
                      json={"name": "authz-doomed", "git_url": url}).json()
    for caller, status in (("anonymous", 401), ("outsider", 404), ("viewer", 403),
                           ("member", 403), ("read token", 403), ("admin", 202)):
        token = world.tokens[caller]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=platform.api, timeout=30, headers=headers) as c:
            assert c.delete(f"/v1/projects/{made['id']}").status_code == status, caller


def test_creating_a_project_in_a_team_needs_the_admin_role_there(platform: Platform,
                                                                 world: World):
    for caller, status in (("viewer", 403), ("member", 403), ("outsider", 404),
                           ("other project's token", 403), ("admin", 201)):
        token = world.tokens[caller]
        assert token is not None
        with platform.client(token) as c:
            r = c.post("/v1/projects", params={"team_id": world.team},
                       json={"name": f"authz-new-{caller.split()[0]}"})
        assert r.status_code == status, (caller, r.text)


def test_another_users_tokens_and_teams_are_out_of_reach(platform: Platform, world: World):
    """IDOR: ids of another user's token, team or member do not work, whatever the
    caller's own role elsewhere."""
    read_token = world.tokens["read token"]
    outsider = world.tokens["outsider"]
    assert read_token and outsider
    with platform.client() as owner:
        mine = {t["id"] for t in owner.get("/v1/tokens").json()}
    with platform.client(outsider) as c:
        theirs = {t["id"] for t in c.get("/v1/tokens").json()}
        assert not mine & theirs
        for token_id in mine:
            assert c.delete(f"/v1/tokens/{token_id}").status_code == 404
        assert c.get(f"/v1/teams/{world.team}/members").status_code == 404
        assert c.patch(f"/v1/teams/{world.team}/members/{world.member_id}",
                       json={"role": "admin"}).status_code == 404
        assert c.post(f"/v1/teams/{world.team}/invitations",
                      json={"email": "x@y.test"}).status_code == 404
        assert world.team not in {t["id"] for t in c.get("/v1/teams").json()}
    with platform.client(read_token) as c:
        assert c.get("/v1/auth/me").status_code == 200  # untouched by all of that
