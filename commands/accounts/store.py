"""The accounts' state in PostgreSQL: users with their argon2id password hashes, tokens
by the sha256 of their secret (sessions and personal access tokens) with when and from
where each was last used, and the failed sign-ins that slow an attacker down.

Users and tokens are rebuilt from ``UserCreated`` and ``Token*`` events but for what no
event carries: password hashes and token digests. It is never a read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from schemas.accounts import Scope, TokenKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS acct_users (
    user_id text PRIMARY KEY,
    email text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    instance_owner boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS acct_tokens (
    token_id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES acct_users ON DELETE CASCADE,
    token_sha256 text NOT NULL UNIQUE,
    kind text NOT NULL,
    name text NOT NULL,
    scopes text[] NOT NULL,
    project_id text,
    team_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    last_used_ip text
);
CREATE INDEX IF NOT EXISTS acct_tokens_user ON acct_tokens (user_id, created_at);
CREATE TABLE IF NOT EXISTS acct_requests (
    token_id text NOT NULL,
    minute timestamptz NOT NULL,
    count integer NOT NULL,
    PRIMARY KEY (token_id, minute)
);
CREATE TABLE IF NOT EXISTS acct_login_failures (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    last_failed_at timestamptz NOT NULL,
    blocked_until timestamptz NOT NULL
);
"""


@dataclass(frozen=True)
class FailureLimits:
    free: int = 5  # failures allowed before any wait
    first: float = 1.0  # seconds blocked after the first failure past them
    cap: float = 900.0
    forget: float = 900.0  # quiet seconds after which the count starts again


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    password_hash: str
    instance_owner: bool


@dataclass(frozen=True)
class Principal:
    """Who a request is made by: the user, and the token it carried."""

    user_id: str
    email: str
    instance_owner: bool
    token_id: str
    kind: TokenKind
    scopes: tuple[Scope, ...]
    project_id: str | None
    team_id: str | None = None  # a personal token is limited to a team or a project


async def any_user(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM acct_users)"))


async def add_user(conn: asyncpg.Connection, user: User) -> bool:
    """False when the email is taken."""
    added = await conn.fetchval(
        "INSERT INTO acct_users (user_id, email, password_hash, instance_owner) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING 1",
        user.user_id, user.email, user.password_hash, user.instance_owner)
    return bool(added)


async def user_by_email(conn: asyncpg.Connection, email: str) -> User | None:
    row = await conn.fetchrow("SELECT user_id, email, password_hash, instance_owner "
                              "FROM acct_users WHERE email = $1", email)
    return None if row is None else User(**row)


async def set_password_hash(conn: asyncpg.Connection, user_id: str, password_hash: str
                            ) -> None:
    await conn.execute("UPDATE acct_users SET password_hash = $2 WHERE user_id = $1",
                       user_id, password_hash)


async def add_token(conn: asyncpg.Connection, digest: str, token_id: str, user_id: str,
                    kind: TokenKind, name: str, scopes: list[Scope], project_id: str | None,
                    team_id: str | None, expires_at: datetime | None) -> None:
    await conn.execute(
        "INSERT INTO acct_tokens (token_id, user_id, token_sha256, kind, name, scopes, "
        "project_id, team_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        token_id, user_id, digest, kind, name, scopes, project_id, team_id, expires_at)


async def principal(conn: asyncpg.Connection, digest: str, ip: str | None
                    ) -> Principal | None:
    """The live token with this digest (not revoked, not expired), marked as used now
    from ``ip``; None for any other."""
    row = await conn.fetchrow(
        "UPDATE acct_tokens t SET last_used_at = now(), last_used_ip = $2 FROM acct_users u "
        "WHERE t.token_sha256 = $1 AND u.user_id = t.user_id AND t.revoked_at IS NULL "
        "AND (t.expires_at IS NULL OR t.expires_at > now()) "
        "RETURNING u.user_id, u.email, u.instance_owner, t.token_id, t.kind, t.scopes, "
        "t.project_id, t.team_id", digest, ip)
    if row is None:
        return None
    return Principal(row["user_id"], row["email"], row["instance_owner"], row["token_id"],
                     row["kind"], tuple(row["scopes"]), row["project_id"], row["team_id"])


async def tokens(conn: asyncpg.Connection, user_id: str) -> list[asyncpg.Record]:
    """The user's live personal access tokens and sessions, oldest first."""
    return await conn.fetch(
        "SELECT token_id AS id, name, kind, scopes, project_id, team_id, created_at, "
        "expires_at, "
        "last_used_at, last_used_ip FROM acct_tokens WHERE user_id = $1 AND revoked_at IS "
        "NULL AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at, token_id",
        user_id)


async def revoke(conn: asyncpg.Connection, user_id: str, token_id: str) -> bool:
    """False when the user has no such live token."""
    revoked = await conn.fetchval(
        "UPDATE acct_tokens SET revoked_at = now() WHERE token_id = $1 AND user_id = $2 "
        "AND revoked_at IS NULL RETURNING 1", token_id, user_id)
    return bool(revoked)


async def blocked_for(conn: asyncpg.Connection, keys: list[str]) -> float:
    """Seconds until sign-in is allowed again for any of ``keys`` (0: now)."""
    wait = await conn.fetchval(
        "SELECT max(extract(epoch FROM blocked_until - now())) FROM acct_login_failures "
        "WHERE key = ANY($1)", keys)
    return max(float(wait or 0), 0.0)


async def record_failure(conn: asyncpg.Connection, key: str, limits: FailureLimits) -> None:
    """Count a failed sign-in for ``key`` (in ``conn``'s transaction). Past
    ``limits.free`` failures it is blocked, for ``limits.first`` seconds doubling with
    each further failure up to ``limits.cap``; the count starts again after
    ``limits.forget`` quiet seconds."""
    row = await conn.fetchrow(
        "SELECT failures, extract(epoch FROM now() - last_failed_at) AS quiet "
        "FROM acct_login_failures WHERE key = $1 FOR UPDATE", key)
    failures = 1 if row is None or row["quiet"] > limits.forget else row["failures"] + 1
    block = (min(limits.cap, limits.first * 2 ** (failures - limits.free - 1))
             if failures > limits.free else 0.0)
    await conn.execute(
        "INSERT INTO acct_login_failures AS f (key, failures, last_failed_at, blocked_until) "
        "VALUES ($1, $2, now(), now() + make_interval(secs => $3)) ON CONFLICT (key) DO "
        "UPDATE SET failures = $2, last_failed_at = now(), "
        "blocked_until = now() + make_interval(secs => $3)", key, failures, block)


async def clear_failures(conn: asyncpg.Connection, keys: list[str]) -> None:
    await conn.execute("DELETE FROM acct_login_failures WHERE key = ANY($1)", keys)


async def count_request(conn: asyncpg.Connection, token_id: str) -> tuple[int, float]:
    """Count one request of the token in this minute: (requests so far in it, seconds
    until the next). The first of a minute drops the token's older counts."""
    row = await conn.fetchrow(
        "INSERT INTO acct_requests AS r VALUES ($1, date_trunc('minute', now()), 1) "
        "ON CONFLICT (token_id, minute) DO UPDATE SET count = r.count + 1 "
        "RETURNING count, extract(epoch FROM r.minute + interval '1 minute' - now()) "
        "AS left", token_id)
    if row["count"] == 1:
        await conn.execute("DELETE FROM acct_requests WHERE token_id = $1 AND "
                           "minute < date_trunc('minute', now())", token_id)
    return row["count"], float(row["left"])
