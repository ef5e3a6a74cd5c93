"""Handle the accounts' commands: create the instance owner on the first start, sign in,
authenticate a request's token, issue and revoke tokens. Each decides, appends the
events, then writes the accounts' state in the caller's transaction.

Passwords are hashed with argon2id (argon2-cffi's defaults), off the event loop. A sign-in
for an unknown email still verifies a password against a hash, so the answer's timing
does not tell which emails have accounts. Failed sign-ins are counted per client address
and per email in PostgreSQL, so every API process agrees on the wait.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from commands.accounts import store, totp
from commands.accounts.decide import create_user, handed_on, issue_token, revoke_token
from commands.accounts.enrol import Enrolment, Issued
from commands.accounts.passwords import (
    HASHER,
    UNKNOWN_USER_HASH,
    hash_password,
    password_matches,
)
from commands.accounts.store import FailureLimits, Principal
from commands.teams import store as teams
from commands.teams.service import TeamService
from infra import outbox
from infra.secrets import EnvCipher, env_key
from infra.settings import Settings
from schemas.accounts import (
    SCOPES,
    CreateTokenBody,
    Scope,
    TokenKind,
    TokenOut,
    TotpDisabled,
    TotpEnabled,
    looks_like_token,
    new_token,
    normalize_email,
    token_digest,
)
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Forbidden, NotFound, RateLimited, Unauthorized

BAD_LOGIN = "wrong email or password"


class AccountService(Enrolment):
    def __init__(self, pool: asyncpg.Pool, settings: Settings,
                 limits: FailureLimits | None = None, cipher: EnvCipher | None = None
                 ) -> None:
        self.pool = pool
        self.settings = settings
        self.cipher = cipher or EnvCipher(env_key(settings))
        self.limits = limits or FailureLimits(free=settings.login_free_failures)
        self.teams = TeamService(settings)

    async def note(self, conn: asyncpg.Connection, kind: type[TotpEnabled] | type[TotpDisabled],
                   user_id: str) -> None:
        """Record a change of the user's own settings (two-factor sign-in)."""
        await self._append(conn, [kind(stream_id=user_id, user_id=user_id,
                                 correlation_id=Meta.new().correlation_id)])

    async def _append(self, conn: asyncpg.Connection, events: list[Envelope]) -> None:
        for e in events:
            await outbox.stage(conn, self.settings.topic_events, e.stream_id, e)

    async def create_owner(self) -> str | None:
        """Create the instance owner when no user exists: from ``admin_email`` and
        ``admin_password``, or with a generated password, which is returned (to be shown
        once). None when a user exists already."""
        s = self.settings
        email = normalize_email(s.admin_email)
        given = s.admin_password.get_secret_value() if s.admin_password else None
        password = given or secrets.token_urlsafe(18)
        password_hash = await hash_password(password)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE acct_users IN EXCLUSIVE MODE")
            if await store.any_user(conn):
                return None
            user_id = new_id()
            await self._append(conn, create_user(user_id, email, True, Meta.new()))
            await store.add_user(conn, store.User(user_id, email, password_hash, True))
            await self.teams.create(conn, user_id, email.partition("@")[0], personal=True)
        return None if given else password

    async def login(self, email: str, password: str, ip: str | None,
                    code: str | None = None) -> Issued:
        keys = [f"email:{email}", f"ip:{ip or '-'}"]
        async with self.pool.acquire() as conn:
            wait = await store.blocked_for(conn, keys)
            if wait > 0:
                raise RateLimited(f"too many failed sign-ins: retry in {wait:.0f} s",
                                  retry_after=max(1, round(wait)))
            user = await store.user_by_email(conn, email)
        matches = await password_matches(user.password_hash if user else UNKNOWN_USER_HASH,
                                         password)
        if user is not None and matches:
            async with self.pool.acquire() as conn, conn.transaction():
                second = await totp.enabled(conn, user.user_id)
                if second and code is None:
                    raise Unauthorized("this account signs in with a two-factor code too: "
                                       "send it as totp", totp_required=True)
                matches = not second or await totp.check(conn, self.cipher, user.user_id,
                                                         code or "")
        if user is None or not matches:
            async with self.pool.acquire() as conn, conn.transaction():
                for key in keys:
                    await store.record_failure(conn, key, self.limits)
            raise Unauthorized(BAD_LOGIN)
        async with self.pool.acquire() as conn, conn.transaction():
            await store.clear_failures(conn, keys[:1])
            if HASHER.check_needs_rehash(user.password_hash):
                await store.set_password_hash(conn, user.user_id, await hash_password(password))
            return await self._session(conn, user.user_id)

    async def _session(self, conn: asyncpg.Connection, user_id: str) -> Issued:
        expires = datetime.now(UTC) + timedelta(hours=self.settings.session_hours)
        return await self._issue(conn, user_id, "session", "sign-in", list(SCOPES), None, None,
                                 expires)

    async def _issue(self, conn: asyncpg.Connection, user_id: str, kind: TokenKind,
                     name: str, scopes: list[Scope], project_id: str | None,
                     team_id: str | None, expires_at: datetime | None) -> Issued:
        token, token_id = new_token(), new_id()
        await self._append(conn, issue_token(user_id, token_id, kind, name, scopes, project_id,
                                       team_id, expires_at, Meta.new()))
        await store.add_token(conn, token_digest(token), token_id, user_id, kind, name,
                              scopes, project_id, team_id, expires_at)
        return Issued(token, token_id, expires_at)

    async def authenticate(self, authorization: str | None, ip: str | None) -> Principal:
        """The principal of a request's ``Authorization: Bearer <token>``;
        ``Unauthorized`` for none, a malformed, unknown, expired or revoked one."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("sign in: send Authorization: Bearer <token>")
        if not looks_like_token(token):
            raise Unauthorized("this is not a Buildspace token")
        async with self.pool.acquire() as conn:
            found = await store.principal(conn, token_digest(token), ip)
            if found is None:
                raise Unauthorized("this token is unknown, expired or revoked")
            count, left = await store.count_request(conn, found.token_id)
        if count > self.settings.api_requests_per_minute:
            raise RateLimited(f"this token made more than "
                              f"{self.settings.api_requests_per_minute} requests this "
                              f"minute: retry in {left:.0f} s", retry_after=max(1, round(left)))
        return found

    async def create_token(self, by: Principal, body: CreateTokenBody) -> Issued:
        scopes, project_id = handed_on(by.scopes, by.project_id, body.scopes, body.project_id)
        if body.expires_in_days == "never":
            expires = None
        else:
            expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
        async with self.pool.acquire() as conn, conn.transaction():
            team_id = await self._token_team(conn, by, body, project_id)
            return await self._issue(conn, by.user_id, "personal", body.name, scopes,
                                     project_id, team_id, expires)

    async def _token_team(self, conn: asyncpg.Connection, by: Principal,
                          body: CreateTokenBody, project_id: str | None) -> str | None:
        """The team a new token is limited to (None when it is limited to a project),
        which the caller must belong to."""
        if project_id is not None:
            team = await teams.project_team(conn, project_id)
            limit = None
        else:
            team = limit = (body.team_id or by.team_id
                            or await teams.personal_team(conn, by.user_id))
            if by.team_id is not None and team != by.team_id:
                raise Forbidden("this token is limited to another team", field="team_id")
        if team is None or await teams.role_in(conn, team, by.user_id) is None:
            what = "project" if project_id is not None else "team"
            raise NotFound(f"{what} not found", field=f"{what}_id")
        return limit

    async def tokens(self, by: Principal) -> list[TokenOut]:
        async with self.pool.acquire() as conn:
            rows = await store.tokens(conn, by.user_id)
        return [TokenOut(**{**row, "scopes": list(row["scopes"])}) for row in rows]

    async def revoke(self, by: Principal, token_id: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            exists = await store.revoke(conn, by.user_id, token_id)
            await self._append(conn, revoke_token(by.user_id, token_id, exists, Meta.new()))
