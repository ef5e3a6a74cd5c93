"""Two-factor sign-in with TOTP (RFC 6238, through ``pyotp``) and recovery codes.

``start`` makes a secret (kept encrypted with the platform's key) and answers the
``otpauth://`` URI for an authenticator app; ``confirm`` turns it on once the app
shows a right code, and answers ten recovery codes, shown once and kept as sha256.
From then on signing in needs a code: a code from the app is taken once (a replayed
one is refused), and a recovery code is used up. ``disable`` needs a code too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import asyncpg
import pyotp

from infra.secrets import EnvCipher
from schemas.errors import Conflict, Invalid

SCHEMA = """
CREATE TABLE IF NOT EXISTS acct_totp (
    user_id text PRIMARY KEY REFERENCES acct_users ON DELETE CASCADE,
    ciphertext text NOT NULL,
    enabled boolean NOT NULL DEFAULT false,
    recovery text[] NOT NULL DEFAULT '{}',
    last_step bigint NOT NULL DEFAULT 0
);
"""
STEP = 30
RECOVERY_CODES = 10
ISSUER = "Buildspace"


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _secret(cipher: EnvCipher, ciphertext: str) -> str:
    return cipher.decrypt(ciphertext)["totp"]


async def enabled(conn: asyncpg.Connection, user_id: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT enabled FROM acct_totp WHERE user_id = $1", user_id))


async def start(conn: asyncpg.Connection, cipher: EnvCipher, user_id: str, email: str
                ) -> tuple[str, str]:
    """(secret, otpauth URI) of a new secret, not in force until confirmed."""
    if await enabled(conn, user_id):
        raise Conflict("two-factor sign-in is on already: turn it off first")
    secret = pyotp.random_base32()
    await conn.execute(
        "INSERT INTO acct_totp (user_id, ciphertext) VALUES ($1, $2) ON CONFLICT (user_id) "
        "DO UPDATE SET ciphertext = EXCLUDED.ciphertext, enabled = false, recovery = '{}', "
        "last_step = 0", user_id, cipher.encrypt({"totp": secret}))
    return secret, pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


async def _take_code(conn: asyncpg.Connection, cipher: EnvCipher, user_id: str, code: str,
                     recovery: bool) -> bool:
    """Whether ``code`` is right for the user now, using it up (in ``conn``'s
    transaction): an app code once, a recovery code (when allowed) for good."""
    row = await conn.fetchrow("SELECT ciphertext, recovery, last_step FROM acct_totp "
                              "WHERE user_id = $1 FOR UPDATE", user_id)
    if row is None:
        return False
    code = code.strip()
    totp, now = pyotp.TOTP(_secret(cipher, row["ciphertext"])), int(time.time()) // STEP
    for step in (now - 1, now, now + 1):
        if step > row["last_step"] and hmac.compare_digest(totp.generate_otp(step), code):
            await conn.execute("UPDATE acct_totp SET last_step = $2 WHERE user_id = $1",
                               user_id, step)
            return True
    if recovery and _digest(code) in row["recovery"]:
        await conn.execute("UPDATE acct_totp SET recovery = array_remove(recovery, $2) "
                           "WHERE user_id = $1", user_id, _digest(code))
        return True
    return False


async def confirm(conn: asyncpg.Connection, cipher: EnvCipher, user_id: str, code: str
                  ) -> list[str]:
    """Turn it on with a right code from the app: the recovery codes, shown once."""
    state = await conn.fetchval("SELECT enabled FROM acct_totp WHERE user_id = $1", user_id)
    if state is None:
        raise Conflict("start with POST /v1/auth/totp")
    if state:
        raise Conflict("two-factor sign-in is on already")
    if not await _take_code(conn, cipher, user_id, code, recovery=False):
        raise Invalid("this code is not the one the app shows now", field="code")
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    await conn.execute("UPDATE acct_totp SET enabled = true, recovery = $2 WHERE user_id = $1",
                       user_id, [_digest(c) for c in codes])
    return codes


async def check(conn: asyncpg.Connection, cipher: EnvCipher, user_id: str, code: str
                ) -> bool:
    """A code at sign-in: from the app, or a recovery code (used up)."""
    return await _take_code(conn, cipher, user_id, code, recovery=True)


async def disable(conn: asyncpg.Connection, cipher: EnvCipher, user_id: str, code: str
                  ) -> None:
    if not await enabled(conn, user_id):
        raise Conflict("two-factor sign-in is off")
    if not await _take_code(conn, cipher, user_id, code, recovery=True):
        raise Invalid("this code is not right", field="code")
    await conn.execute("DELETE FROM acct_totp WHERE user_id = $1", user_id)
