"""The teams' state in PostgreSQL: each team, and each member's role in it. Rebuilt
from ``TeamCreated`` and ``Member*`` events; the policy (``infra.compose.policy``) reads
it on every request."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from schemas.teams import Role

SCHEMA = """
CREATE TABLE IF NOT EXISTS acct_teams (
    team_id text PRIMARY KEY,
    name text NOT NULL,
    personal boolean NOT NULL,
    created_by text NOT NULL,
    require_2fa boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS acct_members (
    team_id text NOT NULL REFERENCES acct_teams ON DELETE CASCADE,
    user_id text NOT NULL,
    role text NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX IF NOT EXISTS acct_members_user ON acct_members (user_id);
CREATE TABLE IF NOT EXISTS acct_invitations (
    invitation_id text PRIMARY KEY,
    team_id text NOT NULL REFERENCES acct_teams ON DELETE CASCADE,
    email text NOT NULL,
    role text NOT NULL,
    token_sha256 text NOT NULL UNIQUE,
    invited_by text NOT NULL,
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz
);
"""


async def add_team(conn: asyncpg.Connection, team_id: str, name: str, personal: bool,
                   user_id: str) -> None:
    await conn.execute("INSERT INTO acct_teams (team_id, name, personal, created_by) "
                       "VALUES ($1, $2, $3, $4)", team_id, name, personal, user_id)
    await conn.execute("INSERT INTO acct_members VALUES ($1, $2, 'owner')", team_id, user_id)


async def teams_of(conn: asyncpg.Connection, user_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT t.team_id AS id, t.name, t.personal, m.role, t.require_2fa "
        "FROM acct_members m "
        "JOIN acct_teams t USING (team_id) WHERE m.user_id = $1 "
        "ORDER BY t.personal DESC, t.created_at, t.team_id", user_id)


async def role_in(conn: asyncpg.Connection, team_id: str, user_id: str) -> Role | None:
    role: Role | None = await conn.fetchval(
        "SELECT role FROM acct_members WHERE team_id = $1 AND user_id = $2", team_id, user_id)
    return role


async def membership(conn: asyncpg.Connection, team_id: str, user_id: str
                     ) -> tuple[Role | None, bool]:
    """The user's role in the team (None: not a member), and whether the team asks for
    two-factor sign-in that the user has not turned on: one query, run per request."""
    row = await conn.fetchrow(
        "SELECT m.role, t.require_2fa AND NOT EXISTS (SELECT 1 FROM acct_totp o WHERE "
        "o.user_id = $2 AND o.enabled) AS missing_2fa FROM acct_members m JOIN acct_teams t "
        "USING (team_id) WHERE m.team_id = $1 AND m.user_id = $2", team_id, user_id)
    return (None, False) if row is None else (row["role"], bool(row["missing_2fa"]))


async def set_require_2fa(conn: asyncpg.Connection, team_id: str, required: bool) -> None:
    await conn.execute("UPDATE acct_teams SET require_2fa = $2 WHERE team_id = $1",
                       team_id, required)


async def delete_team(conn: asyncpg.Connection, team_id: str) -> tuple[bool, int] | None:
    """(personal, live projects) of a team about to be deleted (locked); None: no team."""
    personal = await conn.fetchval("SELECT personal FROM acct_teams WHERE team_id = $1 "
                                   "FOR UPDATE", team_id)
    if personal is None:
        return None
    owner = await owner_team(conn)
    projects = await conn.fetchval(
        "SELECT count(*) FROM cmd_streams WHERE (state->>'exists')::boolean AND "
        "coalesce(state->>'team_id', $2) = $1", team_id, owner)
    return personal, projects


async def drop_team(conn: asyncpg.Connection, team_id: str) -> None:
    """The team, its members and invitations; the tokens limited to it are revoked."""
    await conn.execute("UPDATE acct_tokens SET revoked_at = now() WHERE team_id = $1 AND "
                       "revoked_at IS NULL", team_id)
    await conn.execute("DELETE FROM acct_teams WHERE team_id = $1", team_id)


async def personal_team(conn: asyncpg.Connection, user_id: str) -> str | None:
    team: str | None = await conn.fetchval(
        "SELECT team_id FROM acct_teams WHERE personal AND created_by = $1", user_id)
    return team


async def owner_team(conn: asyncpg.Connection) -> str | None:
    """The instance owner's personal team: where projects made before accounts live."""
    team: str | None = await conn.fetchval(
        "SELECT t.team_id FROM acct_teams t JOIN acct_users u ON u.user_id = t.created_by "
        "WHERE t.personal AND u.instance_owner")
    return team


async def project_team(conn: asyncpg.Connection, project_id: str) -> str | None:
    """The team a project belongs to (the instance owner's for projects made before
    accounts); None for a project that never existed."""
    found = await conn.fetchrow("SELECT state->>'team_id' AS team_id FROM cmd_streams "
                                "WHERE stream_id = $1", project_id)
    if found is None:
        return None
    return found["team_id"] or await owner_team(conn)


async def add_invitation(conn: asyncpg.Connection, invitation_id: str, team_id: str,
                         email: str, role: Role, digest: str, invited_by: str,
                         expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO acct_invitations (invitation_id, team_id, email, role, token_sha256, "
        "invited_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        invitation_id, team_id, email, role, digest, invited_by, expires_at)


async def take_invitation(conn: asyncpg.Connection, digest: str) -> asyncpg.Record | None:
    """The live invitation with this digest, used up (in ``conn``'s transaction)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "UPDATE acct_invitations SET accepted_at = now() WHERE token_sha256 = $1 AND "
        "accepted_at IS NULL AND expires_at > now() RETURNING team_id, email, role", digest)
    return row


async def add_member(conn: asyncpg.Connection, team_id: str, user_id: str, role: Role
                     ) -> None:
    await conn.execute("INSERT INTO acct_members VALUES ($1, $2, $3) ON CONFLICT "
                       "(team_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                       team_id, user_id, role)


async def members(conn: asyncpg.Connection, team_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.user_id, u.email, m.role FROM acct_members m JOIN acct_users u "
        "USING (user_id) WHERE m.team_id = $1 ORDER BY u.email", team_id)


async def owners(conn: asyncpg.Connection, team_id: str) -> int:
    """How many owners the team has (locking its rows against a concurrent change)."""
    rows = await conn.fetch("SELECT user_id FROM acct_members WHERE team_id = $1 AND "
                            "role = 'owner' FOR UPDATE", team_id)
    return len(rows)


async def set_role(conn: asyncpg.Connection, team_id: str, user_id: str, role: Role) -> None:
    await conn.execute("UPDATE acct_members SET role = $3 WHERE team_id = $1 AND "
                       "user_id = $2", team_id, user_id, role)


async def remove_member(conn: asyncpg.Connection, team_id: str, user_id: str) -> None:
    await conn.execute("DELETE FROM acct_members WHERE team_id = $1 AND user_id = $2",
                       team_id, user_id)
