"""Signing in and personal access tokens through the running platform's API: the
instance owner made on the first start from BUILDSPACE_ADMIN_EMAIL/PASSWORD, sessions,
tokens shown once and listed with their last use, revocation, and every bad credential
answered 401."""

from __future__ import annotations

import base64
import hashlib
import re

import orjson

from tests.support.platform import Platform
from tests.support.waiting import eventually


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_owner_signs_in_and_sees_who_they_are(platform: Platform):
    token = platform.login()
    assert token.startswith("bs_") and len(token) == 46
    with platform.anonymous() as c:
        me = c.get("/v1/auth/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json() | {"id": "", "token_id": ""} == {
            "id": "", "token_id": "", "email": platform.admin_email, "instance_owner": True,
            "scopes": ["read", "deploy", "write", "admin"], "token_kind": "session",
            "totp_enabled": False}
        # The email is not case-sensitive; a wrong password and an unknown email get the
        # same answer.
        upper = c.post("/v1/auth/login", json={"email": platform.admin_email.upper(),
                                               "password": platform.admin_password})
        assert upper.status_code == 200
        wrong = c.post("/v1/auth/login", json={"email": platform.admin_email,
                                               "password": "not the password"})
        unknown = c.post("/v1/auth/login", json={"email": "nobody@buildspace.test",
                                                 "password": platform.admin_password})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert c.post("/v1/auth/logout", headers=bearer(token)).status_code == 204
        assert c.get("/v1/auth/me", headers=bearer(token)).status_code == 401


def test_a_token_is_shown_once_listed_with_its_last_use_and_revoked(platform: Platform):
    session = platform.login()
    with platform.anonymous() as c:
        made = c.post("/v1/tokens", headers=bearer(session),
                      json={"name": "ci", "scopes": ["deploy", "read"]})
        assert made.status_code == 201, made.text
        body = made.json()
        token = body["token"]
        assert token.startswith("bs_") and body["scopes"] == ["read", "deploy"]
        assert body["kind"] == "personal" and body["last_used_at"] is None
        days = (body["expires_at"][:10], body["created_at"][:10])
        assert days[0] > days[1]  # 90 days by default

        me = c.get("/v1/auth/me", headers=bearer(token)).json()
        assert me["scopes"] == ["read", "deploy"] and me["token_id"] == body["id"]
        listed = {t["id"]: t for t in c.get("/v1/tokens", headers=bearer(session)).json()}
        assert "token" not in listed[body["id"]]
        assert listed[body["id"]]["last_used_ip"] == "127.0.0.1"
        assert listed[body["id"]]["last_used_at"] is not None
        assert token not in c.get("/v1/tokens", headers=bearer(session)).text

        # A token without the admin scope cannot manage tokens; nor grant more than it has.
        assert c.get("/v1/tokens", headers=bearer(token)).status_code == 403
        assert c.post("/v1/tokens", headers=bearer(token),
                      json={"name": "x", "scopes": ["read"]}).status_code == 403

        never = c.post("/v1/tokens", headers=bearer(session),
                       json={"name": "forever", "scopes": ["read"], "expires_in_days": "never"})
        assert never.status_code == 201 and never.json()["expires_at"] is None

        assert c.delete(f"/v1/tokens/{body['id']}", headers=bearer(session)).status_code == 204
        assert c.get("/v1/auth/me", headers=bearer(token)).status_code == 401
        assert c.delete(f"/v1/tokens/{body['id']}", headers=bearer(session)).status_code == 404
        assert body["id"] not in {t["id"] for t in
                                  c.get("/v1/tokens", headers=bearer(session)).json()}


def test_bad_credentials_are_401_and_bad_bodies_422_changing_nothing(platform: Platform):
    session = platform.login()
    header = base64.urlsafe_b64encode(orjson.dumps({"alg": "none"})).rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(orjson.dumps({"sub": "owner"})).rstrip(b"=").decode()
    tampered = session[:-1] + ("A" if session[-1] != "A" else "B")
    with platform.anonymous() as c:
        for headers in ({}, {"Authorization": "Basic b3duZXI6eA=="},
                        {"Authorization": "Bearer"}, bearer(f"{header}.{claims}."),
                        bearer(tampered),
                        bearer("bs_" + "x" * 43), bearer(hashlib.sha256(b"x").hexdigest())):
            r = c.get("/v1/auth/me", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/tokens").status_code == 401

        def tokens() -> list[dict[str, object]]:  # less when each was last used
            listed = c.get("/v1/tokens", headers=bearer(session)).json()
            return [{k: v for k, v in t.items() if k != "last_used_at"} for t in listed]

        before = tokens()
        for bad in ({"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []},
                    {"name": "", "scopes": ["read"]}, {"name": "x" * 101, "scopes": ["read"]},
                    {"name": "x", "scopes": ["read"], "expires_in_days": 0},
                    {"name": "x", "scopes": ["read"], "expires_in_days": 3651},
                    {"name": "x", "scopes": ["read"], "expires_in_days": "later"},
                    {"name": "x", "scopes": ["read"], "secret": "y"}):
            r = c.post("/v1/tokens", headers=bearer(session), json=bad)
            assert r.status_code == 422, (bad, r.text)
        assert tokens() == before
        for bad_login in ({"email": "not-an-email", "password": "x"},
                          {"email": platform.admin_email, "password": "x" * 1025},
                          {"email": platform.admin_email}):
            assert c.post("/v1/auth/login", json=bad_login).status_code == 422


def test_a_browser_session_is_an_httponly_cookie_and_unsafe_requests_need_csrf(
        platform: Platform):
    with platform.anonymous() as browser:
        r = browser.post("/v1/auth/login", json={"email": platform.admin_email,
                                                 "password": platform.admin_password})
        assert r.status_code == 200
        cookies = r.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("bs_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
        csrf = browser.cookies["bs_csrf"]
        assert browser.get("/v1/auth/me").status_code == 200  # the cookie alone
        body = {"name": "from the browser", "scopes": ["read"]}
        assert browser.post("/v1/tokens", json=body).status_code == 403
        assert browser.post("/v1/tokens", json=body,
                            headers={"X-CSRF-Token": csrf + "x"}).status_code == 403
        made = browser.post("/v1/tokens", json=body, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        assert browser.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}
                            ).status_code == 204
        assert "bs_session" not in browser.cookies
        browser.cookies.set("bs_session", r.json()["token"])
        assert browser.get("/v1/auth/me").status_code == 401  # revoked at logout


def test_a_forgotten_password_is_reset_through_a_one_time_link(platform: Platform):
    with platform.client() as owner:
        team = owner.get("/v1/teams").json()[0]["id"]
        invite = owner.post(f"/v1/teams/{team}/invitations",
                            json={"email": "forgetful@example.test", "role": "viewer"}).json()
    with platform.anonymous() as c:
        old = c.post("/v1/auth/signup", json={"email": "forgetful@example.test",
                                              "password": "the old password",
                                              "invitation": invite["invitation"]})
        assert old.status_code == 201
        seen = platform.log_path.read_text()
        for email in ("forgetful@example.test", "nobody-here@example.test"):
            assert c.post("/v1/auth/password-reset", json={"email": email}
                          ).status_code == 202
        link = eventually(lambda: re.findall(
            r"password reset for forgetful@example\.test \(no SMTP server is set\).*"
            r'"token": "(bsr_[\w-]+)"', platform.log_path.read_text()[len(seen):]),
            what="the reset link in the server log")
        assert "nobody-here" not in platform.log_path.read_text()[len(seen):]
        assert c.post("/v1/auth/password-reset/confirm", json={
            "token": link[0], "password": "short"}).status_code == 422
        done = c.post("/v1/auth/password-reset/confirm", json={
            "token": link[0], "password": "the new password"})
        assert done.status_code == 204, done.text
        assert c.post("/v1/auth/password-reset/confirm", json={
            "token": link[0], "password": "another password"}).status_code == 422
        assert c.get("/v1/auth/me", headers=bearer(old.json()["token"])).status_code == 401
        assert c.post("/v1/auth/login", json={"email": "forgetful@example.test",
                                              "password": "the old password"}
                      ).status_code == 401
        assert c.post("/v1/auth/login", json={"email": "forgetful@example.test",
                                              "password": "the new password"}
                      ).status_code == 200
