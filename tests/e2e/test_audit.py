"""The audit trail through the running platform: each action on a team's projects, with
who did it (a signed-in user, a token, a deploy hook) and from where, newest first and
a page at a time; only the team's admins may read it."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.envelope import new_id
from tests.support.kafka import produce
from tests.support.platform import Platform
from tests.support.waiting import eventually


def test_the_trail_names_who_did_what(platform: Platform, git_server):
    url = git_server.make_repo("audited", {"index.html": "<p>audited</p>"})
    with platform.client() as owner:
        me = owner.get("/v1/auth/me").json()
        team = owner.post("/v1/teams", json={"name": "audited"}).json()["id"]
        project = owner.post("/v1/projects", params={"team_id": team},
                             json={"name": "audited-site", "git_url": url}).json()["id"]
        token = owner.post("/v1/tokens", json={"name": "ci", "scopes": ["deploy", "read"],
                                               "team_id": team}).json()
        hook = owner.post(f"/v1/projects/{project}/deploy-hooks",
                          json={"name": "CMS"}).json()
        invite = owner.post(f"/v1/teams/{team}/invitations",
                            json={"email": "auditee@example.test", "role": "member"}).json()
    with platform.client(token["token"]) as ci:
        by_token = ci.post(f"/v1/projects/{project}/deployments").json()["id"]
    with platform.anonymous() as anyone:
        by_hook = anyone.post("/v1/hooks/" + hook["url"].rsplit("/v1/hooks/", 1)[1]
                              ).json()["id"]
        member = anyone.post("/v1/auth/signup", json={
            "email": "auditee@example.test", "password": "a long password",
            "invitation": invite["invitation"]}).json()["token"]

    def trail() -> list[dict[str, Any]]:
        with platform.client() as owner:
            entries: list[dict[str, Any]] = owner.get(
                f"/v1/teams/{team}/audit", params={"limit": 500}).json()["entries"]
        return entries

    def complete() -> list[dict[str, Any]] | None:
        entries = trail()
        resources = {e["resource"] for e in entries if e["action"] == "DeploymentRequested"}
        joined = any(e["action"] == "MemberAdded" and e["resource"] != f"user:{me['id']}"
                     for e in entries)
        wanted = {f"deployment:{by_token}", f"deployment:{by_hook}"}
        return entries if wanted <= resources and joined else None

    found = eventually(complete, 60, what="the actions in the team's audit trail")
    assert found is not None
    entries = found
    by = {(e["action"], e["resource"]): e["actor"] for e in entries}
    created = by[("ProjectCreated", f"project:{project}")]
    assert created == {"kind": "user", "id": me["token_id"], "user_id": me["id"],
                       "ip": "127.0.0.1"}
    assert by[("DeploymentRequested", f"deployment:{by_token}")] == {
        "kind": "token", "id": token["id"], "user_id": me["id"], "ip": "127.0.0.1"}
    assert by[("DeploymentRequested", f"deployment:{by_hook}")] == {
        "kind": "deploy-hook", "id": hook["id"], "user_id": None, "ip": None}
    assert ("TeamCreated", f"team:{team}") in by and ("InvitationCreated",
                                                     f"invitation:{invite['id']}") in by
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)

    # The trail is in event time: an entry projected late lands behind newer ones. Page
    # once the builds' last entries are in.
    def built() -> bool:
        finals = {e["resource"] for e in trail() if e["action"] in (
            "DeploymentReady", "DeploymentFailed", "DeploymentCanceled")}
        return {f"deployment:{by_token}", f"deployment:{by_hook}"} <= finals
    eventually(built, 240, what="the builds' last entries in the trail", interval=0.2)
    with platform.client() as owner:
        first = owner.get(f"/v1/teams/{team}/audit", params={"limit": 2}).json()
        second = owner.get(f"/v1/teams/{team}/audit",
                           params={"limit": 2, "cursor": first["next_cursor"]}).json()
    # Compare with the trail as it was when the first page was read.
    top = first["entries"][0]["id"]
    assert [e["id"] for e in first["entries"] + second["entries"]] == \
        [e["id"] for e in trail() if e["id"] <= top][:4]
    with platform.client(member) as c:
        assert c.get(f"/v1/teams/{team}/audit").status_code == 403
    with platform.client(token["token"]) as c:
        assert c.get(f"/v1/teams/{team}/audit").status_code == 403


def test_a_command_from_the_intake_topic_names_its_sender(platform: Platform):
    """A project made through ``buildspace.commands`` belongs to the instance owner's
    team, and its trail names the sender the message gave."""
    name = f"intake-{new_id()[:6]}"
    produce(platform.kafka, "buildspace.commands", orjson.dumps(
        {"command_id": new_id(), "actor": "cms-sync",
         "command": {"type": "CreateProject", "name": name,
                     "git_url": "http://127.0.0.1:1/acme/site.git"}}))
    with platform.client() as owner:
        personal = owner.get("/v1/teams").json()[0]["id"]

        def created() -> dict[str, Any] | None:
            entries = owner.get(f"/v1/teams/{personal}/audit",
                                params={"limit": 500}).json()["entries"]
            projects = {p["name"]: p["id"] for p in owner.get("/v1/projects").json()}
            return next((e for e in entries if e["action"] == "ProjectCreated"
                         and e["resource"] == f"project:{projects.get(name)}"), None)
        entry = eventually(created, 60, what="the intake's project in the owner's trail")
    assert entry is not None
    assert entry["actor"] == {"kind": "intake", "id": "cms-sync", "user_id": None, "ip": None}
