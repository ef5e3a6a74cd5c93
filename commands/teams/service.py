"""Handle the teams' commands: make a team with its owner (a user's personal team, or
one a user asks for), invite, change a member's role, remove a member; and list teams
and members. Each decides, appends, then writes in the caller's transaction."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

from commands.teams import store
from commands.teams.decide import change_role, create_team, delete_team, invite, remove
from infra import outbox
from infra.settings import Settings
from schemas.accounts import token_digest
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import NotFound
from schemas.teams import (
    InvitationOut,
    InviteBody,
    MemberOut,
    Role,
    TeamOut,
    TeamSettingsChanged,
)

INVITATION_DAYS = 7


class TeamService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def create(self, conn: asyncpg.Connection, user_id: str, name: str,
                     personal: bool) -> TeamOut:
        """In ``conn``'s transaction: the team's events and the team."""
        team_id = new_id()
        await self.append(conn, create_team(team_id, name, personal, user_id, Meta.new()))
        await store.add_team(conn, team_id, name, personal, user_id)
        return TeamOut(id=team_id, name=name, personal=personal, role="owner")

    async def teams_of(self, conn: asyncpg.Connection, user_id: str) -> list[TeamOut]:
        return [TeamOut(**row) for row in await store.teams_of(conn, user_id)]

    async def append(self, conn: asyncpg.Connection, events: list[Envelope]) -> None:
        """Write ``events`` to the outbox in ``conn``'s transaction."""
        for event in events:
            await outbox.stage(conn, self.settings.topic_events, event.stream_id, event)

    async def caller_role(self, conn: asyncpg.Connection, team_id: str, user_id: str) -> Role:
        role = await store.role_in(conn, team_id, user_id)
        if role is None:  # the policy let the caller in: they left meanwhile
            raise NotFound("team not found", field="team_id")
        return role

    async def invite(self, conn: asyncpg.Connection, team_id: str, by: str,
                     body: InviteBody) -> InvitationOut:
        secret, invitation_id = "bsi_" + secrets.token_urlsafe(32), new_id()
        expires = datetime.now(UTC) + timedelta(days=INVITATION_DAYS)
        by_role = await self.caller_role(conn, team_id, by)
        await self.append(conn, invite(team_id, invitation_id, body.email, body.role, by, by_role,
                                 Meta.new()))
        await store.add_invitation(conn, invitation_id, team_id, body.email, body.role,
                                   token_digest(secret), by, expires)
        return InvitationOut(id=invitation_id, team_id=team_id, email=body.email,
                             role=body.role, expires_at=expires, invitation=secret,
                             link=self.settings.api_url("/v1/auth/signup"))

    async def change_settings(self, conn: asyncpg.Connection, team_id: str, by: str,
                              require_2fa: bool) -> TeamOut:
        await self.caller_role(conn, team_id, by)
        await self.append(conn, [TeamSettingsChanged(stream_id=team_id, team_id=team_id,
                                               require_2fa=require_2fa,
                                               correlation_id=Meta.new().correlation_id)])
        await store.set_require_2fa(conn, team_id, require_2fa)
        return next(t for t in await self.teams_of(conn, by) if t.id == team_id)

    async def delete(self, conn: asyncpg.Connection, team_id: str, by: str) -> None:
        by_role = await self.caller_role(conn, team_id, by)
        found = await store.delete_team(conn, team_id)
        if found is None:
            raise NotFound("team not found", field="team_id")
        personal, projects = found
        await self.append(conn, delete_team(team_id, personal, by_role, projects, Meta.new()))
        await store.drop_team(conn, team_id)

    async def members(self, conn: asyncpg.Connection, team_id: str) -> list[MemberOut]:
        return [MemberOut(**row) for row in await store.members(conn, team_id)]

    async def change_role(self, conn: asyncpg.Connection, team_id: str, by: str,
                          user_id: str, role: Role) -> MemberOut:
        by_role = await self.caller_role(conn, team_id, by)
        owners = await store.owners(conn, team_id)
        current = await store.role_in(conn, team_id, user_id)
        await self.append(conn, change_role(team_id, user_id, current, role, by_role, owners,
                                      Meta.new()))
        await store.set_role(conn, team_id, user_id, role)
        return next(m for m in await self.members(conn, team_id) if m.user_id == user_id)

    async def remove(self, conn: asyncpg.Connection, team_id: str, by: str, user_id: str
                     ) -> None:
        by_role = await self.caller_role(conn, team_id, by)
        owners = await store.owners(conn, team_id)
        current = await store.role_in(conn, team_id, user_id)
        await self.append(conn, remove(team_id, user_id, current, by_role, owners, Meta.new()))
        await store.remove_member(conn, team_id, user_id)
