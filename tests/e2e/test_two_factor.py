"""Two-factor sign-in through the running API, with codes computed as an authenticator
app would (pyotp): turned on only with a right code, codes taken once, recovery codes
used up, only a sign-in session may change it, and a team that requires it keeps
members without it away from its projects."""

from __future__ import annotations

import time

import pyotp

from tests.support.platform import Platform

PASSWORD = "a long password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member(platform: Platform, team: str, email: str, role: str = "member") -> str:
    """A session of a new user, invited to ``team`` with ``role``."""
    with platform.client() as owner:
        invite = owner.post(f"/v1/teams/{team}/invitations",
                            json={"email": email, "role": role}).json()
    with platform.anonymous() as c:
        r = c.post("/v1/auth/signup", json={"email": email, "password": PASSWORD,
                                            "invitation": invite["invitation"]})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


def test_two_factor_sign_in_and_a_team_that_requires_it(platform: Platform):
    with platform.client() as owner:
        team = owner.post("/v1/teams", json={"name": "vault"}).json()["id"]
        project = owner.post("/v1/projects", params={"team_id": team},
                             json={"name": "vault-site"}).json()["id"]
    careful = member(platform, team, "careful@vault.test")
    careless = member(platform, team, "careless@vault.test")
    login = {"email": "careful@vault.test", "password": PASSWORD}
    with platform.anonymous() as c:
        stored = c.post("/v1/tokens", headers=bearer(careful),
                        json={"name": "ci", "scopes": ["read"], "team_id": team}).json()
        assert c.post("/v1/auth/totp", headers=bearer(stored["token"])).status_code == 403
        setup = c.post("/v1/auth/totp", headers=bearer(careful)).json()
        assert setup["otpauth_uri"].startswith("otpauth://totp/Buildspace:careful%40vault.test")
        app = pyotp.TOTP(setup["secret"])
        assert c.post("/v1/auth/totp/confirm", headers=bearer(careful),
                      json={"code": "000000" if app.now() != "000000" else "111111"}
                      ).status_code == 422
        assert c.post("/v1/auth/login", json=login).status_code == 200  # not on yet
        confirmed = c.post("/v1/auth/totp/confirm", headers=bearer(careful),
                           json={"code": app.now()})
        assert confirmed.status_code == 200, confirmed.text
        recovery = confirmed.json()["recovery_codes"]
        assert len(set(recovery)) == 10

        asked = c.post("/v1/auth/login", json=login)
        assert asked.status_code == 401 and asked.json()["error"]["totp_required"] is True
        assert c.post("/v1/auth/login", json=login | {"totp": "12345x"}).status_code == 401
        code = app.at(time.time() + 30)  # the next step: the current one was used
        assert c.post("/v1/auth/login", json=login | {"totp": code}).status_code == 200
        assert c.post("/v1/auth/login", json=login | {"totp": code}).status_code == 401
        assert c.post("/v1/auth/login", json=login | {"totp": recovery[0]}).status_code == 200
        assert c.post("/v1/auth/login", json=login | {"totp": recovery[0]}).status_code == 401

    with platform.client() as owner:
        required = owner.patch(f"/v1/teams/{team}", json={"require_2fa": True})
        assert required.status_code == 200 and required.json()["require_2fa"] is True
    with platform.anonymous() as c:
        refused = c.get(f"/v1/projects/{project}", headers=bearer(careless))
        assert refused.status_code == 403 and "two-factor" in refused.text
        assert c.get(f"/v1/projects/{project}", headers=bearer(careful)).status_code == 200
        assert c.post("/v1/auth/totp/disable", headers=bearer(careful),
                      json={"code": "nope"}).status_code == 422
        assert c.post("/v1/auth/totp/disable", headers=bearer(careful),
                      json={"code": recovery[1]}).status_code == 204
        assert c.get(f"/v1/projects/{project}", headers=bearer(careful)).status_code == 403
        assert c.post("/v1/auth/login", json=login).status_code == 200
