"""HTTP endpoints for signing in through a provider: ``GET /v1/auth/{provider}/login``
sends the browser to GitHub or the OpenID Connect provider, which sends it back to
``GET /v1/auth/{provider}/callback`` with a code; the answer is a session, as a token
and as the browser's session cookies (``commands.accounts.http``). Anyone may call
both: the provider vouches for who signs in (``commands.accounts.sso``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from commands.accounts import sso
from commands.accounts.http import AccountsDep, set_session_cookies
from commands.deps import WriteDep
from schemas.accounts import SessionOut
from schemas.errors import Forbidden

router = APIRouter(prefix="/v1/auth", tags=["accounts"])
Provider = Literal["oidc", "github"]
Param = Annotated[str, Query(min_length=1, max_length=2048)]


@router.get("/{provider}/login", status_code=302, response_class=RedirectResponse,
            responses={302: {"description": "to the provider's sign-in page"},
                       404: {"description": "this provider is not set up"},
                       503: {"description": "the provider did not answer"}})
async def sso_login(provider: Provider, platform: WriteDep) -> RedirectResponse:
    """Sign in with GitHub (``github``) or the OpenID Connect provider (``oidc``)."""
    async with platform.pool.acquire() as conn:
        url = await sso.start(conn, platform.settings, provider)
    return RedirectResponse(url, status_code=302)


@router.get("/{provider}/callback", response_model=SessionOut, responses={
    403: {"description": "the provider refused, or no account for its email (sign-up "
                         "is by invitation)"},
    422: {"description": "an unknown or expired sign-in"}})
async def sso_callback(provider: Provider, request: Request, response: Response,
                       platform: WriteDep, accounts: AccountsDep,
                       code: Annotated[str | None, Query(max_length=2048)] = None,
                       state: Annotated[str | None, Query(max_length=256)] = None,
                       error: Annotated[str | None, Query(max_length=256)] = None
                       ) -> SessionOut:
    """Where the provider sends the browser back: a session for who it vouched for."""
    if error is not None or code is None or state is None:
        raise Forbidden(f"{provider} did not sign you in: {error or 'no code'}")
    async with platform.pool.acquire() as conn, conn.transaction():
        identity = await sso.finish(conn, platform.settings, provider, code, state)
    issued = await accounts.sso_session(identity)
    assert issued.expires_at is not None
    set_session_cookies(response, issued.token, issued.expires_at,
                        platform.settings.public_scheme == "https")
    return SessionOut(token=issued.token, expires_at=issued.expires_at)
