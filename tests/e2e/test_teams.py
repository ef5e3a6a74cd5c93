"""Teams through the running API: invitations taken once by the email they name,
sign-up closed without one, roles changed by admins with the last owner kept, and a
removed member's token no longer reaching the team's projects."""

from __future__ import annotations

from tests.support.platform import Platform

PASSWORD = "a long password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_invitations_roles_and_removal(platform: Platform):
    with platform.client() as owner:
        team = owner.post("/v1/teams", json={"name": "crew"}).json()
        invite = owner.post(f"/v1/teams/{team['id']}/invitations",
                            json={"email": "Deckhand@Crew.test", "role": "member"}).json()
        assert invite["email"] == "deckhand@crew.test" and invite["role"] == "member"
        assert invite["invitation"].startswith("bsi_")
        project = owner.post("/v1/projects", params={"team_id": team["id"]},
                             json={"name": "crew-site"}).json()
    with platform.anonymous() as c:
        closed = c.post("/v1/auth/signup", json={"email": "walk-in@crew.test",
                                                 "password": PASSWORD})
        assert closed.status_code == 403, closed.text
        other = c.post("/v1/auth/signup", json={"email": "someone@crew.test",
                                                "password": PASSWORD,
                                                "invitation": invite["invitation"]})
        assert other.status_code == 403  # the invitation names another email
        short = c.post("/v1/auth/signup", json={"email": "deckhand@crew.test",
                                                "password": "short",
                                                "invitation": invite["invitation"]})
        assert short.status_code == 422
        joined = c.post("/v1/auth/signup", json={"email": "deckhand@crew.test",
                                                 "password": PASSWORD,
                                                 "invitation": invite["invitation"]})
        assert joined.status_code == 201, joined.text
        again = c.post("/v1/auth/signup", json={"email": "deckhand@crew.test",
                                                "password": PASSWORD,
                                                "invitation": invite["invitation"]})
        assert again.status_code == 422  # used
    deckhand = joined.json()["token"]
    with platform.client(deckhand) as c:
        teams = {t["name"]: t["role"] for t in c.get("/v1/teams").json()}
        assert teams == {"deckhand": "owner", "crew": "member"}
        assert c.get(f"/v1/projects/{project['id']}").status_code == 200
        assert c.patch(f"/v1/projects/{project['id']}", json={"branch": "x"}).status_code == 403

    with platform.client() as owner:
        members = {m["email"]: m for m in owner.get(f"/v1/teams/{team['id']}/members").json()}
        assert members["deckhand@crew.test"]["role"] == "member"
        me = members[platform.admin_email]
        assert owner.patch(f"/v1/teams/{team['id']}/members/{me['user_id']}",
                           json={"role": "admin"}).status_code == 409  # the last owner
        hand = members["deckhand@crew.test"]["user_id"]
        promoted = owner.patch(f"/v1/teams/{team['id']}/members/{hand}",
                               json={"role": "admin"})
        assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    with platform.client(deckhand) as c:  # an admin, not an owner
        assert c.patch(f"/v1/projects/{project['id']}", json={"branch": "x"}).status_code == 200
        assert c.patch(f"/v1/teams/{team['id']}/members/{me['user_id']}",
                       json={"role": "member"}).status_code == 403
        assert c.delete(f"/v1/teams/{team['id']}/members/{me['user_id']}").status_code == 403

    with platform.client() as owner:
        assert owner.delete(f"/v1/teams/{team['id']}/members/{hand}").status_code == 204
        assert owner.delete(f"/v1/teams/{team['id']}/members/{hand}").status_code == 404
    with platform.client(deckhand) as c:
        assert c.get(f"/v1/projects/{project['id']}").status_code == 404
        assert c.get(f"/v1/teams/{team['id']}/members").status_code == 404
        assert {t["name"] for t in c.get("/v1/teams").json()} == {"deckhand"}


def test_an_account_accepts_an_invitation_with_its_password(platform: Platform):
    with platform.client() as owner:
        first = owner.post("/v1/teams", json={"name": "first"}).json()
        second = owner.post("/v1/teams", json={"name": "second"}).json()
        invites = [owner.post(f"/v1/teams/{t['id']}/invitations",
                              json={"email": "twice@crew.test", "role": "viewer"}).json()
                   for t in (first, second)]
    with platform.anonymous() as c:
        assert c.post("/v1/auth/signup", json={
            "email": "twice@crew.test", "password": PASSWORD,
            "invitation": invites[0]["invitation"]}).status_code == 201
        wrong = c.post("/v1/auth/signup", json={
            "email": "twice@crew.test", "password": "not the password",
            "invitation": invites[1]["invitation"]})
        assert wrong.status_code == 409
        accepted = c.post("/v1/auth/signup", json={
            "email": "twice@crew.test", "password": PASSWORD,
            "invitation": invites[1]["invitation"]})
        assert accepted.status_code == 201, accepted.text
        teams = c.get("/v1/teams", headers=bearer(accepted.json()["token"])).json()
    assert {t["name"]: t["role"] for t in teams} == {"twice": "owner", "first": "viewer",
                                                     "second": "viewer"}


def test_only_an_owner_deletes_a_team_once_its_projects_are_gone(platform: Platform):
    with platform.client() as owner:
        personal = owner.get("/v1/teams").json()[0]
        team = owner.post("/v1/teams", json={"name": "short-lived"}).json()["id"]
        project = owner.post("/v1/projects", params={"team_id": team},
                             json={"name": "short-lived-site"}).json()["id"]
        invite = owner.post(f"/v1/teams/{team}/invitations",
                            json={"email": "second@short.test", "role": "admin"}).json()
        limited = owner.post("/v1/tokens", json={"name": "t", "scopes": ["read"],
                                                 "team_id": team}).json()["token"]
    with platform.anonymous() as c:
        admin = c.post("/v1/auth/signup", json={"email": "second@short.test",
                                                "password": PASSWORD,
                                                "invitation": invite["invitation"]}
                       ).json()["token"]
    with platform.client(admin) as c:
        assert c.delete(f"/v1/teams/{team}").status_code == 403  # an admin, not an owner
    with platform.client() as owner:
        assert personal["personal"] is True
        assert owner.delete(f"/v1/teams/{personal['id']}").status_code == 409
        assert owner.delete(f"/v1/teams/{team}").status_code == 409  # it has a project
        assert owner.delete(f"/v1/projects/{project}").status_code == 202
        assert owner.delete(f"/v1/teams/{team}").status_code == 204
        assert owner.get(f"/v1/teams/{team}/members").status_code == 404
    with platform.client(limited) as c:
        assert c.get("/v1/auth/me").status_code == 401  # its tokens went with it
