"""Password reset through a one-time link: ``request`` makes a secret valid for an hour
and sends it by mail (or, without SMTP settings, writes it to the server log, where the
operator finds it); ``confirm`` takes it once, sets the new password and revokes every
session and token of the account. Asking for an unknown email looks the same as for a
known one, so the answer tells nothing."""

from __future__ import annotations

import logging
import secrets
import smtplib
from datetime import UTC, datetime, timedelta

import asyncpg

from commands.accounts import store
from infra import mail, outbox
from infra.settings import Settings
from schemas.accounts import PasswordChanged, token_digest
from schemas.envelope import Meta
from schemas.errors import Invalid, Unavailable

log = logging.getLogger("buildspace.accounts")

SCHEMA = """
CREATE TABLE IF NOT EXISTS acct_password_resets (
    token_sha256 text PRIMARY KEY,
    user_id text NOT NULL REFERENCES acct_users ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
"""
VALID = timedelta(hours=1)


async def request(pool: asyncpg.Pool, settings: Settings, email: str) -> None:
    async with pool.acquire() as conn:
        user = await store.user_by_email(conn, email)
        if user is None:
            return
        secret = "bsr_" + secrets.token_urlsafe(32)
        await conn.execute("INSERT INTO acct_password_resets VALUES ($1, $2, $3)",
                           token_digest(secret), user.user_id, datetime.now(UTC) + VALID)
    where = settings.api_url("/v1/auth/password-reset/confirm")
    text = (f"To choose a new Buildspace password, POST {{\"token\": \"{secret}\", "
            f"\"password\": \"…\"}} to {where} within an hour. If you did not ask, ignore "
            "this.")
    try:
        sent = await mail.send(settings, email, "Your Buildspace password", text)
    except (OSError, smtplib.SMTPException) as exc:
        raise Unavailable(f"the mail server did not take the message: {type(exc).__name__}"
                          ) from None
    if not sent:  # no SMTP: the operator relays the link
        log.warning("password reset for %s (no SMTP server is set): %s", email, text)


async def confirm(pool: asyncpg.Pool, settings: Settings, secret: str,
                  password_hash: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval(
            "UPDATE acct_password_resets SET used_at = now() WHERE token_sha256 = $1 AND "
            "used_at IS NULL AND expires_at > now() RETURNING user_id", token_digest(secret))
        if user_id is None:
            raise Invalid("this reset link is unknown, used or expired", field="token")
        await outbox.stage(conn, settings.topic_events, user_id, PasswordChanged(
            stream_id=user_id, user_id=user_id, correlation_id=Meta.new().correlation_id))
        await store.set_password_hash(conn, user_id, password_hash)
        await conn.execute("UPDATE acct_tokens SET revoked_at = now() WHERE user_id = $1 "
                           "AND revoked_at IS NULL", user_id)
