"""Passwords, hashed with argon2id (argon2-cffi's defaults), off the event loop. A
sign-in for an unknown email still verifies a password against ``UNKNOWN_USER_HASH``,
so the answer's timing does not tell which emails have accounts."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
UNKNOWN_USER_HASH = HASHER.hash(secrets.token_urlsafe(16))  # verified for unknown emails


async def password_matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(verify)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(HASHER.hash, password)
