"""Accounts: users, their sessions and personal access tokens.

A token is ``bs_`` followed by 43 url-safe characters (256 random bits), so secret
scanners can recognise it; only its sha256 is kept. A session (``POST /v1/auth/login``)
is a token too, of kind ``session``, with every scope. Events name tokens by id and
never carry a token or its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from schemas.envelope import Envelope

Scope = Literal["read", "deploy", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "deploy", "write", "admin")
TokenKind = Literal["session", "personal"]
TOKEN_PREFIX = "bs_"
SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "bs_session", "bs_csrf", "x-csrf-token"
TOKEN_CHARS = 43  # token_urlsafe(32)
MAX_EMAIL = 254
MAX_PASSWORD = 1024  # argon2 hashes any length; this bounds the work one request asks
MIN_PASSWORD = 10  # for a new account's password
MAX_TOKEN_NAME = 100
MAX_TOKEN_DAYS = 3650


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return (value.startswith(TOKEN_PREFIX) and len(value) == len(TOKEN_PREFIX) + TOKEN_CHARS
            and value[len(TOKEN_PREFIX):].replace("-", "").replace("_", "").isalnum())


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if (not at or not local or not domain or "@" in domain or domain.startswith(".")
            or domain.endswith(".") or any(c.isspace() or ord(c) < 32 for c in email)):
        raise ValueError("not an email address")
    return email


Email = Annotated[str, Field(min_length=3, max_length=MAX_EMAIL),
                  AfterValidator(normalize_email)]


# -- events ------------------------------------------------------------------------------

class UserCreated(Envelope):
    """A user can sign in (``stream_id`` is the user id). The password is never here."""

    type: Literal["UserCreated"] = "UserCreated"
    user_id: str
    email: str
    instance_owner: bool = False


class TokenCreated(Envelope):
    """A session or a personal access token was issued to a user (never the token)."""

    type: Literal["TokenCreated"] = "TokenCreated"
    user_id: str
    token_id: str
    kind: TokenKind
    name: str
    scopes: list[Scope]
    project_id: str | None = None
    team_id: str | None = None
    expires_at: datetime | None = Field(description="None: it never expires")


class PasswordChanged(Envelope):
    """The user set a new password through a reset link; every token they had is
    revoked."""

    type: Literal["PasswordChanged"] = "PasswordChanged"
    user_id: str


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class NewPasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class TotpEnabled(Envelope):
    type: Literal["TotpEnabled"] = "TotpEnabled"
    user_id: str


class TotpDisabled(Envelope):
    type: Literal["TotpDisabled"] = "TotpDisabled"
    user_id: str


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)


class TotpSetupOut(BaseModel):
    secret: str = Field(description="for apps that cannot read the URI")
    otpauth_uri: str = Field(description="show it as a QR code to the authenticator app")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="shown once: each signs in once instead "
                                                  "of a code")


class TokenRevoked(Envelope):
    type: Literal["TokenRevoked"] = "TokenRevoked"
    user_id: str
    token_id: str


# -- the API's bodies and answers ----------------------------------------------------------

class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    totp: str | None = Field(default=None, min_length=1, max_length=32,
                             description="the authenticator app's code, or a recovery "
                                         "code, for an account with two-factor sign-in")


class SessionOut(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer <token>`")
    expires_at: datetime


class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=MAX_TOKEN_NAME)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    project_id: str | None = Field(default=None, min_length=1, max_length=64,
                                   description="limit the token to this project")
    team_id: str | None = Field(default=None, min_length=1, max_length=64,
                                description="limit the token to this team (default: the "
                                            "caller's token's team, or personal team)")
    expires_in_days: int | Literal["never"] = Field(
        default=90, description="days until it stops working, 1 to 3650; \"never\" must be "
                                "asked for")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[Scope]) -> list[Scope]:
        return [s for s in SCOPES if s in value]

    @field_validator("expires_in_days")
    @classmethod
    def _days(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= MAX_TOKEN_DAYS:
            raise ValueError(f"between 1 and {MAX_TOKEN_DAYS} days, or \"never\"")
        return value


class TokenOut(BaseModel):
    id: str
    name: str
    kind: TokenKind
    scopes: list[Scope]
    project_id: str | None
    team_id: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None


class NewTokenOut(TokenOut):
    token: str = Field(description="shown once: only its hash is kept")


class UserOut(BaseModel):
    id: str
    email: str
    instance_owner: bool
    token_id: str = Field(description="the token this request was made with")
    token_kind: TokenKind = "session"
    scopes: list[Scope]
    totp_enabled: bool = Field(default=False, description="two-factor sign-in is on")
