"""How accounts are made: sign-up (with an invitation, or open sign-up), and sign-in
through a provider (``commands.accounts.sso``); each new account gets its personal
team. A mixin of ``AccountService``, which gives it the pool, the settings, the event
log and the sessions."""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from commands.accounts import sso, store
from commands.accounts.decide import create_user
from commands.accounts.passwords import hash_password, password_matches
from commands.teams import store as teams
from commands.teams.decide import join
from schemas.accounts import token_digest
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, Forbidden, Invalid

if TYPE_CHECKING:
    from commands.teams.service import TeamService
    from infra.settings import Settings


@dataclass(frozen=True)
class Issued:
    token: str
    token_id: str
    expires_at: datetime | None


class Enrolment(ABC):
    pool: asyncpg.Pool
    settings: Settings
    teams: TeamService

    @abstractmethod
    async def _append(self, conn: asyncpg.Connection, events: list[Envelope]) -> None:
        """Write events to the outbox in ``conn``'s transaction (``AccountService``)."""

    @abstractmethod
    async def _session(self, conn: asyncpg.Connection, user_id: str) -> Issued:
        """Issue a sign-in session (``AccountService``)."""

    async def signup(self, email: str, password: str, invitation: str | None) -> Issued:
        """A new account (with its personal team) and a session; with an invitation, a
        member of its team too. An existing account with this password accepts the
        invitation instead."""
        if invitation is None and self.settings.signup != "open":
            raise Forbidden("sign-up is by invitation: ask a team's admin for one",
                            field="invitation")
        password_hash = await hash_password(password)
        async with self.pool.acquire() as conn, conn.transaction():
            invited = None
            if invitation is not None:
                invited = await teams.take_invitation(conn, token_digest(invitation))
                if invited is None:
                    raise Invalid("this invitation is unknown, used or expired",
                                  field="invitation")
                if invited["email"] != email:
                    raise Forbidden("this invitation is for another email", field="email")
            user = await store.user_by_email(conn, email)
            if user is not None and not (invited and await password_matches(
                    user.password_hash, password)):
                raise Conflict("an account with this email exists: sign in", field="email")
            if user is None:
                user = await self._new_user(conn, email, password_hash)
            if invited is not None:
                await self.teams.append(conn, join(invited["team_id"], user.user_id,
                                             invited["role"], Meta.new()))
                await teams.add_member(conn, invited["team_id"], user.user_id,
                                       invited["role"])
            return await self._session(conn, user.user_id)

    async def sso_session(self, identity: sso.Identity) -> Issued:
        """A session for who a provider vouched for: the linked account, else the one
        with that email (linked from now on), else a new one if sign-up is open."""
        async with self.pool.acquire() as conn, conn.transaction():
            user_id = await sso.linked_user(conn, identity)
            if user_id is None:
                user = await store.user_by_email(conn, identity.email)
                if user is None and self.settings.signup != "open":
                    raise Forbidden(f"no account for {identity.email}: ask a team's admin "
                                    "for an invitation")
                if user is None:  # no password: it signs in through the provider
                    unusable = await hash_password(secrets.token_urlsafe(32))
                    user = await self._new_user(conn, identity.email, unusable)
                user_id = user.user_id
                await sso.link(conn, identity, user_id)
            return await self._session(conn, user_id)

    async def _new_user(self, conn: asyncpg.Connection, email: str, password_hash: str
                        ) -> store.User:
        """A new account with its personal team (in ``conn``'s transaction)."""
        user = store.User(new_id(), email, password_hash, False)
        await self._append(conn, create_user(user.user_id, email, False, Meta.new()))
        await store.add_user(conn, user)
        await self.teams.create(conn, user.user_id, email.partition("@")[0], personal=True)
        return user
