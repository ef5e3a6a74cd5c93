"""Signing in through a provider against a platform of its own: a real OpenID Connect
provider (node-oidc-provider, run with Node) and a fake GitHub OAuth server. A provider's
identity signs in to the account with its verified email, linked from then on; with
sign-up by invitation, an email without an account is refused."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from infra.embedded import free_port
from tests.support import oidc
from tests.support.fake_github import FakeGitHub
from tests.support.platform import Platform, fresh_database

PASSWORD = "a long password"


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, FakeGitHub]]:
    issuer_port = free_port()
    with fresh_database() as dsn, FakeGitHub("gh-client", "gh-secret", 4242,
                                             "octo@gh.test") as github:
        platform = Platform(
            tmp_path_factory.mktemp("sso"), dsn,
            BUILDSPACE_OIDC_ISSUER=f"http://127.0.0.1:{issuer_port}",
            BUILDSPACE_OIDC_CLIENT_ID="buildspace", BUILDSPACE_OIDC_CLIENT_SECRET="oidc-secret",
            BUILDSPACE_GITHUB_CLIENT_ID="gh-client", BUILDSPACE_GITHUB_CLIENT_SECRET="gh-secret",
            BUILDSPACE_GITHUB_URL=github.url, BUILDSPACE_GITHUB_API_URL=github.url)
        with oidc.provider(issuer_port, "buildspace", "oidc-secret",
                           f"{platform.api}/v1/auth/oidc/callback"):
            platform.start()
            try:
                yield platform, github
            finally:
                platform.stop()


def invite(platform: Platform, email: str) -> str:
    """An account for ``email`` (by invitation, with a password): its user id."""
    with platform.client() as owner:
        team = owner.get("/v1/teams").json()[0]["id"]
        made = owner.post(f"/v1/teams/{team}/invitations",
                          json={"email": email, "role": "viewer"}).json()
    with platform.anonymous() as c:
        token = c.post("/v1/auth/signup", json={"email": email, "password": PASSWORD,
                                                "invitation": made["invitation"]}
                       ).json()["token"]
        user_id: str = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                             ).json()["id"]
    return user_id


def me(platform: Platform, session: httpx.Response) -> dict:
    assert session.status_code == 200, session.text
    assert "bs_session=" in session.headers.get("set-cookie", "")
    token = session.json()["token"]
    with platform.anonymous() as c:
        answer: dict = c.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
                             ).json()
    return answer


def test_openid_connect_signs_in_the_account_with_the_verified_email(sso):
    platform, _ = sso
    alice = invite(platform, "alice@sso.test")
    callback = f"{platform.api}/v1/auth/oidc/callback"
    with platform.anonymous() as c:
        start = c.get("/v1/auth/oidc/login")
        assert start.status_code == 302
        for _ in range(2):  # the second time through the link made by the first
            back = oidc.sign_in(str(c.get("/v1/auth/oidc/login").headers["location"]),
                                "alice", until=callback)
            assert me(platform, httpx.get(back))["id"] == alice
        refused = httpx.get(oidc.sign_in(str(start.headers["location"]), "bob",
                                         until=callback))
        assert refused.status_code == 403 and "invitation" in refused.text
        replayed = httpx.get(back)  # the state was taken once
        assert replayed.status_code == 422
        assert c.get("/v1/auth/oidc/callback", params={"error": "access_denied"}
                     ).status_code == 403


def test_github_signs_in_the_account_with_the_primary_verified_email(sso):
    platform, github = sso
    octo = invite(platform, "octo@gh.test")
    with platform.anonymous() as c:
        start = c.get("/v1/auth/github/login")
        assert start.status_code == 302
        assert start.headers["location"].startswith(f"{github.url}/login/oauth/authorize?")
        back = httpx.get(start.headers["location"]).headers["location"]
        assert me(platform, c.get(back))["id"] == octo
        tampered = c.get("/v1/auth/github/login").headers["location"]
        code_back = httpx.get(tampered).headers["location"]
        github.client_secret = "rotated"  # the platform's secret is now wrong
        assert c.get(code_back).status_code == 403
        github.client_secret = "gh-secret"


def test_a_provider_that_is_not_set_up_is_404(platform):
    with platform.anonymous() as c:
        assert c.get("/v1/auth/oidc/login").status_code == 404
        assert c.get("/v1/auth/nope/login").status_code == 422
