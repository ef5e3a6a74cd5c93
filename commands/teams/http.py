"""HTTP endpoints for teams. ``GET /v1/teams`` lists the caller's teams with their
role; ``POST /v1/teams`` makes a team whose owner is the caller (a token limited to a
team or a project, or without the admin scope, may not). Members are listed by anyone
in the team, and invited, changed and removed by its admins (``infra.compose.policy``);
only an owner makes, unmakes or removes an owner, and the last owner stays."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from commands.accounts.http import AccountsDep, SignedIn, holding
from commands.deps import WriteDep
from schemas.errors import Forbidden
from schemas.teams import (
    CreateTeamBody,
    InvitationOut,
    InviteBody,
    MemberOut,
    RoleBody,
    TeamOut,
    TeamSettingsBody,
)

router = APIRouter(prefix="/v1", tags=["teams"])


@router.get("/teams", response_model=list[TeamOut])
async def list_teams(principal: SignedIn, platform: WriteDep, accounts: AccountsDep
                     ) -> list[TeamOut]:
    """The teams the caller belongs to, the personal one first, with the caller's role.
    A token limited to a team sees that team only."""
    async with platform.pool.acquire() as conn:
        mine = await accounts.teams.teams_of(conn, principal.user_id)
    if principal.team_id is not None:
        mine = [t for t in mine if t.id == principal.team_id]
    return [] if principal.project_id is not None else mine


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=TeamOut,
             responses={403: {"description": "a limited token, or one without admin"}})
async def create_team(body: CreateTeamBody, principal: SignedIn, platform: WriteDep,
                      accounts: AccountsDep) -> TeamOut:
    """Make a team; the caller is its owner."""
    holding(principal, "admin")
    if principal.team_id is not None or principal.project_id is not None:
        raise Forbidden("a token limited to a team or a project cannot make teams")
    async with platform.pool.acquire() as conn, conn.transaction():
        return await accounts.teams.create(conn, principal.user_id, body.name, personal=False)


@router.get("/teams/{team_id}/members", response_model=list[MemberOut])
async def list_members(team_id: str, platform: WriteDep, accounts: AccountsDep
                       ) -> list[MemberOut]:
    """The team's members and their roles."""
    async with platform.pool.acquire() as conn:
        return await accounts.teams.members(conn, team_id)


@router.post("/teams/{team_id}/invitations", status_code=status.HTTP_201_CREATED,
             response_model=InvitationOut)
async def create_invitation(team_id: str, body: InviteBody, principal: SignedIn,
                            platform: WriteDep, accounts: AccountsDep) -> InvitationOut:
    """Invite someone by email with a role: the answer holds the invitation, shown once,
    which ``POST /v1/auth/signup`` takes within 7 days."""
    async with platform.pool.acquire() as conn, conn.transaction():
        return await accounts.teams.invite(conn, team_id, principal.user_id, body)


@router.patch("/teams/{team_id}/members/{user_id}", response_model=MemberOut, responses={
    404: {"description": "no such member"}, 409: {"description": "the last owner"}})
async def change_member_role(team_id: str, user_id: str, body: RoleBody, principal: SignedIn,
                             platform: WriteDep, accounts: AccountsDep) -> MemberOut:
    """Change a member's role."""
    async with platform.pool.acquire() as conn, conn.transaction():
        return await accounts.teams.change_role(conn, team_id, principal.user_id,
                                                user_id[:64], body.role)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such member"},
                          409: {"description": "the last owner"}})
async def remove_member(team_id: str, user_id: str, principal: SignedIn, platform: WriteDep,
                        accounts: AccountsDep) -> Response:
    """Remove a member from the team; their tokens no longer reach its projects."""
    async with platform.pool.acquire() as conn, conn.transaction():
        await accounts.teams.remove(conn, team_id, principal.user_id, user_id[:64])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch("/teams/{team_id}", response_model=TeamOut)
async def change_team(team_id: str, body: TeamSettingsBody, principal: SignedIn,
                      platform: WriteDep, accounts: AccountsDep) -> TeamOut:
    """Change the team's settings: ``require_2fa`` keeps members without two-factor
    sign-in away from its projects (403 naming why)."""
    async with platform.pool.acquire() as conn, conn.transaction():
        return await accounts.teams.change_settings(conn, team_id, principal.user_id,
                                                    body.require_2fa)


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT, responses={
    403: {"description": "not an owner"},
    409: {"description": "a personal team, or one that still has projects"}})
async def delete_team(team_id: str, principal: SignedIn, platform: WriteDep,
                      accounts: AccountsDep) -> Response:
    """Delete a team once its projects are deleted; only an owner may. Its members,
    invitations and tokens limited to it go with it."""
    async with platform.pool.acquire() as conn, conn.transaction():
        await accounts.teams.delete(conn, team_id, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
