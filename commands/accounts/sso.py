"""Sign-in with GitHub (OAuth) and with any OpenID Connect provider, through authlib
(joserfc checks the ID token).

``start`` remembers a one-time state (with the OIDC nonce and the PKCE verifier) for
ten minutes and answers the provider's authorization URL; ``finish`` takes the state
back once, exchanges the code and reads who signed in:

- OIDC: the ID token, checked against the provider's keys (issuer, audience, expiry,
  nonce), with the userinfo endpoint's claims for the same subject where the token has
  no email; the email only when ``email_verified``.
- GitHub: the account's primary verified email from ``/user/emails``.

The account is the one already linked to that identity, else the one with that email
(and the identity is linked to it), else a new one when sign-up is open.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import asyncpg
import authlib.deprecate
import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749 import OAuth2Error

# authlib 1.9 announces, with a filter of its own that always shows it, that its httpx
# client will move to a future "httpx2" package; the client works, and the notice would
# be printed by every ``buildspace`` command (the CLI imports the API's routes).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="The httpx module is deprecated",
                            category=authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from infra.settings import Settings
from schemas.errors import Forbidden, Invalid, NotFound, Unavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS acct_sso_states (
    state text PRIMARY KEY,
    provider text NOT NULL,
    nonce text NOT NULL,
    verifier text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS acct_identities (
    provider text NOT NULL,
    subject text NOT NULL,
    user_id text NOT NULL REFERENCES acct_users ON DELETE CASCADE,
    PRIMARY KEY (provider, subject)
);
"""
TIMEOUT = 20
ID_TOKEN_ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]  # never "none" or HMAC
PROVIDERS = ("oidc", "github")


@dataclass(frozen=True)
class Identity:
    provider: str
    subject: str
    email: str


def configured(settings: Settings, provider: str) -> tuple[str, str]:
    """(client id, secret) of a provider that is set up; ``NotFound`` otherwise."""
    if provider == "oidc" and settings.oidc_issuer and settings.oidc_client_id:
        secret = settings.oidc_client_secret
        return settings.oidc_client_id, secret.get_secret_value() if secret else ""
    if provider == "github" and settings.github_client_id:
        secret = settings.github_client_secret
        return settings.github_client_id, secret.get_secret_value() if secret else ""
    raise NotFound(f"sign-in with {provider} is not set up on this platform",
                   field="provider")


def client(settings: Settings, provider: str) -> AsyncOAuth2Client:
    client_id, secret = configured(settings, provider)
    return AsyncOAuth2Client(client_id, secret, scope="openid email" if provider == "oidc"
                             else "read:user user:email", code_challenge_method="S256",
                             redirect_uri=settings.api_url(f"/v1/auth/{provider}/callback"),
                             timeout=TIMEOUT)


async def discovery(settings: Settings) -> dict[str, Any]:
    assert settings.oidc_issuer
    url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        answer = await http.get(url)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


async def start(conn: asyncpg.Connection, settings: Settings, provider: str) -> str:
    """The URL to send the browser to."""
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    configured(settings, provider)
    try:
        if provider == "oidc":
            authorize = (await discovery(settings))["authorization_endpoint"]
        else:
            authorize = settings.github_url.rstrip("/") + "/login/oauth/authorize"
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise Unavailable(f"the {provider} provider did not answer: {type(exc).__name__}"
                          ) from None
    await conn.execute("DELETE FROM acct_sso_states WHERE created_at < now() - "
                       "interval '10 minutes'")
    await conn.execute("INSERT INTO acct_sso_states (state, provider, nonce, verifier) "
                       "VALUES ($1, $2, $3, $4)", state, provider, nonce, verifier)
    async with client(settings, provider) as oauth:
        url, _ = oauth.create_authorization_url(
            authorize, state=state, code_verifier=verifier,
            **({"nonce": nonce} if provider == "oidc" else {}))
    return str(url)


async def finish(conn: asyncpg.Connection, settings: Settings, provider: str, code: str,
                 state: str) -> Identity:
    row = await conn.fetchrow(
        "DELETE FROM acct_sso_states WHERE state = $1 AND provider = $2 AND "
        "created_at > now() - interval '10 minutes' RETURNING nonce, verifier", state,
        provider)
    if row is None:
        raise Invalid("this sign-in is unknown or expired: start again", field="state")
    try:
        if provider == "oidc":
            return await _oidc(settings, code, row["verifier"], row["nonce"])
        return await _github(settings, code, row["verifier"])
    except (OAuth2Error, OAuthError, JoseError) as exc:
        raise Forbidden(f"{provider} refused the sign-in: {exc}") from None
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise Unavailable(f"the {provider} provider did not answer: {type(exc).__name__}"
                          ) from None


async def _oidc(settings: Settings, code: str, verifier: str, nonce: str) -> Identity:
    meta = await discovery(settings)
    async with client(settings, "oidc") as oauth:
        token = await oauth.fetch_token(meta["token_endpoint"], code=code,
                                        code_verifier=verifier)
        keys = (await oauth.get(meta["jwks_uri"])).json()
    id_token = jwt.decode(token["id_token"], KeySet.import_key_set(keys),
                          algorithms=ID_TOKEN_ALGORITHMS)
    jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": meta["issuer"]},
                          aud={"essential": True, "value": settings.oidc_client_id or ""},
                          nonce={"essential": True, "value": nonce},
                          exp={"essential": True}).validate(id_token.claims)
    claims = id_token.claims
    if "email" not in claims and meta.get("userinfo_endpoint"):
        async with client(settings, "oidc") as oauth:
            oauth.token = token
            info = (await oauth.get(meta["userinfo_endpoint"])).json()
        if info.get("sub") == claims["sub"]:  # the same person, or nothing from it
            claims = {**info, **claims}
    if not claims.get("email") or claims.get("email_verified") is not True:
        raise Forbidden("the provider did not vouch for an email address")
    return Identity("oidc", str(claims["sub"]), str(claims["email"]).lower())


async def _github(settings: Settings, code: str, verifier: str) -> Identity:
    api = settings.github_api_url.rstrip("/")
    async with client(settings, "github") as oauth:
        await oauth.fetch_token(settings.github_url.rstrip("/") + "/login/oauth/access_token",
                                code=code, code_verifier=verifier,
                                headers={"Accept": "application/json"})
        user = (await oauth.get(f"{api}/user")).json()
        emails = (await oauth.get(f"{api}/user/emails")).json()
    email = next((e["email"] for e in emails if e.get("primary") and e.get("verified")), None)
    if email is None:
        raise Forbidden("the GitHub account has no verified primary email")
    return Identity("github", str(user["id"]), str(email).lower())


async def linked_user(conn: asyncpg.Connection, identity: Identity) -> str | None:
    user: str | None = await conn.fetchval(
        "SELECT user_id FROM acct_identities WHERE provider = $1 AND subject = $2",
        identity.provider, identity.subject)
    return user


async def link(conn: asyncpg.Connection, identity: Identity, user_id: str) -> None:
    await conn.execute("INSERT INTO acct_identities VALUES ($1, $2, $3) ON CONFLICT DO "
                       "NOTHING", identity.provider, identity.subject, user_id)
