"""HTTP endpoints for signing in and for personal access tokens.

Who may call each: ``POST /v1/auth/login`` anyone (failed attempts are limited per
client address and per email); ``GET /v1/auth/me`` and ``POST /v1/auth/logout`` any
valid token; the token routes a token with the ``admin`` scope (every session has it),
and only for the caller's own tokens.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status

from commands.accounts import reset, totp
from commands.accounts.passwords import hash_password
from commands.accounts.service import AccountService
from commands.accounts.store import Principal
from commands.deps import WriteDep
from schemas.accounts import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CodeBody,
    CreateTokenBody,
    LoginBody,
    NewPasswordBody,
    NewTokenOut,
    RecoveryCodesOut,
    ResetBody,
    Scope,
    SessionOut,
    TokenOut,
    TotpDisabled,
    TotpEnabled,
    TotpSetupOut,
    UserOut,
)
from schemas.errors import Forbidden
from schemas.teams import SignupBody

router = APIRouter(prefix="/v1", tags=["accounts"])
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or one unknown, expired or revoked"}}


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def accounts(platform: WriteDep) -> AccountService:
    return platform.accounts


AccountsDep = Annotated[AccountService, Depends(accounts)]


async def signed_in(request: Request, service: AccountsDep,
                    authorization: Annotated[str | None, Header(max_length=200)] = None
                    ) -> Principal:
    """The principal the policy found (``infra.compose.policy``), or found now."""
    known: Principal | None = getattr(request.state, "principal", None)
    return known or await service.authenticate(authorization, client_ip(request))


SignedIn = Annotated[Principal, Depends(signed_in)]


def holding(principal: Principal, scope: Scope) -> Principal:
    if scope not in principal.scopes:
        raise Forbidden(f"this token lacks the {scope} scope")
    return principal


@router.post("/auth/login", response_model=SessionOut, responses={
    401: {"description": "wrong email or password"},
    429: {"description": "too many failed sign-ins; see Retry-After"}})
async def login(body: LoginBody, request: Request, response: Response, service: AccountsDep
                ) -> SessionOut:
    """Sign in with email and password: a session token, sent as
    ``Authorization: Bearer <token>``. Browsers get it as an HttpOnly, SameSite=Lax
    cookie too (``bs_session``), with a ``bs_csrf`` cookie whose value unsafe requests
    signed in by the cookie must repeat in an ``X-CSRF-Token`` header."""
    issued = await service.login(body.email, body.password, client_ip(request), body.totp)
    assert issued.expires_at is not None
    set_session_cookies(response, issued.token, issued.expires_at,
                        request.app.state.platform.settings.public_scheme == "https")
    return SessionOut(token=issued.token, expires_at=issued.expires_at)


def set_session_cookies(response: Response, token: str, expires: datetime,
                        secure: bool) -> None:
    age = max(0, int((expires - datetime.now(UTC)).total_seconds()))
    response.set_cookie(SESSION_COOKIE, token, max_age=age, httponly=True, samesite="lax",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), max_age=age, httponly=False,
                        samesite="lax", secure=secure, path="/")


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, response_model=SessionOut,
             responses={403: {"description": "no invitation (sign-up is by invitation), or "
                                             "one for another email"},
                        409: {"description": "an account with this email exists"},
                        422: {"description": "a bad field, or an unknown, used or expired "
                                             "invitation"}})
async def signup(body: SignupBody, service: AccountsDep) -> SessionOut:
    """Make an account with an invitation from a team's admin (or without one when
    ``BUILDSPACE_SIGNUP=open``) and sign in. Each account gets a personal team; the
    invitation adds its team with the role it names."""
    issued = await service.signup(body.email, body.password, body.invitation)
    assert issued.expires_at is not None
    return SessionOut(token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/password-reset", status_code=status.HTTP_202_ACCEPTED, responses={
    503: {"description": "the mail server did not take the message"}})
async def request_reset(body: ResetBody, platform: WriteDep) -> Response:
    """Send a one-time link (valid for an hour) to choose a new password, by mail, or to
    the server log when no SMTP server is set. The answer is the same for an email
    without an account."""
    await reset.request(platform.pool, platform.settings, body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/auth/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT,
             responses={422: {"description": "a bad password, or the link is unknown, "
                                             "used or expired"}})
async def confirm_reset(body: NewPasswordBody, platform: WriteDep) -> Response:
    """Set a new password with the link's token; every session and token of the account
    stops working."""
    await reset.confirm(platform.pool, platform.settings, body.token,
                        await hash_password(body.password))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAUTHORIZED)
async def logout(principal: SignedIn, service: AccountsDep) -> Response:
    """Revoke the token this request carries (and clear the session cookies)."""
    await service.revoke(principal, principal.token_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")
    return response


@router.get("/auth/me", response_model=UserOut, responses=UNAUTHORIZED)
async def me(principal: SignedIn, platform: WriteDep) -> UserOut:
    """Who the token belongs to, what it may do, and whether they sign in with a second
    factor."""
    async with platform.pool.acquire() as conn:
        second_factor = await totp.enabled(conn, principal.user_id)
    return UserOut(id=principal.user_id, email=principal.email,
                   instance_owner=principal.instance_owner, token_id=principal.token_id,
                   token_kind=principal.kind, scopes=list(principal.scopes),
                   totp_enabled=second_factor)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=NewTokenOut,
             responses={**UNAUTHORIZED, 403: {"description": "the caller's token lacks the "
                                                            "admin scope or a scope asked"}})
async def create_token(body: CreateTokenBody, principal: SignedIn, service: AccountsDep
                       ) -> NewTokenOut:
    """A personal access token, shown once. It holds at most the caller's scopes, and
    expires after 90 days unless ``expires_in_days`` says otherwise ("never" included)."""
    issued = await service.create_token(holding(principal, "admin"), body)
    listed = {t.id: t for t in await service.tokens(principal)}
    return NewTokenOut(**listed[issued.token_id].model_dump(), token=issued.token)


@router.get("/tokens", response_model=list[TokenOut], responses={
    **UNAUTHORIZED, 403: {"description": "the token lacks the admin scope"}})
async def list_tokens(principal: SignedIn, service: AccountsDep) -> list[TokenOut]:
    """The caller's live sessions and tokens, with when and from where each was last
    used. Secrets are never shown again."""
    return await service.tokens(holding(principal, "admin"))


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses={
    **UNAUTHORIZED, 403: {"description": "the token lacks the admin scope"},
    404: {"description": "the caller has no such live token"}})
async def revoke_token(token_id: str, principal: SignedIn, service: AccountsDep) -> Response:
    """Revoke one of the caller's tokens: it stops working at once."""
    await service.revoke(holding(principal, "admin"), token_id[:64])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def own_session(principal: Principal) -> Principal:
    """Two-factor settings change only with a sign-in session, never a stored token."""
    if principal.kind != "session":
        raise Forbidden("sign in with your password to change two-factor sign-in")
    return principal


@router.post("/auth/totp", response_model=TotpSetupOut, responses={
    **UNAUTHORIZED, 403: {"description": "not a sign-in session"},
    409: {"description": "two-factor sign-in is on already"}})
async def start_totp(principal: SignedIn, platform: WriteDep) -> TotpSetupOut:
    """Begin two-factor sign-in: a secret for the authenticator app, in force once
    confirmed with a code."""
    own_session(principal)
    async with platform.pool.acquire() as conn:
        secret, uri = await totp.start(conn, platform.accounts.cipher, principal.user_id,
                                       principal.email)
    return TotpSetupOut(secret=secret, otpauth_uri=uri)


@router.post("/auth/totp/confirm", response_model=RecoveryCodesOut, responses={
    **UNAUTHORIZED, 403: {"description": "not a sign-in session"},
    409: {"description": "not started, or on already"},
    422: {"description": "not the code the app shows now"}})
async def confirm_totp(body: CodeBody, principal: SignedIn, platform: WriteDep
                       ) -> RecoveryCodesOut:
    """Turn two-factor sign-in on with the app's current code; the answer holds ten
    recovery codes, shown once."""
    own_session(principal)
    async with platform.pool.acquire() as conn, conn.transaction():
        codes = await totp.confirm(conn, platform.accounts.cipher, principal.user_id,
                                   body.code)
        await platform.accounts.note(conn, TotpEnabled, principal.user_id)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/auth/totp/disable", status_code=status.HTTP_204_NO_CONTENT, responses={
    **UNAUTHORIZED, 403: {"description": "not a sign-in session"},
    409: {"description": "it is off"}, 422: {"description": "a wrong code"}})
async def disable_totp(body: CodeBody, principal: SignedIn, platform: WriteDep) -> Response:
    """Turn two-factor sign-in off, with a code from the app or a recovery code."""
    own_session(principal)
    async with platform.pool.acquire() as conn, conn.transaction():
        await totp.disable(conn, platform.accounts.cipher, principal.user_id, body.code)
        await platform.accounts.note(conn, TotpDisabled, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
