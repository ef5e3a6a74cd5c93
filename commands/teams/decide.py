"""Deciding for teams, pure: a new team with its first member, its owner; invitations;
members joining, changing role and leaving, with the rules on owners."""

from __future__ import annotations

from typing import Any

from schemas.envelope import Envelope, Meta
from schemas.errors import Conflict, Forbidden, NotFound
from schemas.teams import (
    InvitationCreated,
    MemberAdded,
    MemberRemoved,
    MemberRoleChanged,
    Role,
    TeamCreated,
    TeamDeleted,
)


def create_team(team_id: str, name: str, personal: bool, user_id: str, meta: Meta
                ) -> list[Envelope]:
    about: dict[str, Any] = {"stream_id": team_id, "team_id": team_id,
                             "correlation_id": meta.correlation_id,
                             "causation_id": meta.causation_id}
    return [TeamCreated(**about, name=name, personal=personal, created_by=user_id),
            MemberAdded(**about, user_id=user_id, role="owner")]


def invite(team_id: str, invitation_id: str, email: str, role: Role, by: str, by_role: Role,
           meta: Meta) -> list[Envelope]:
    """Admins invite; only an owner may invite an owner."""
    if role == "owner" and by_role != "owner":
        raise Forbidden("only an owner may invite an owner", field="role")
    return [InvitationCreated(stream_id=team_id, team_id=team_id,
                              invitation_id=invitation_id, email=email, role=role,
                              invited_by=by, correlation_id=meta.correlation_id,
                              causation_id=meta.causation_id)]


def join(team_id: str, user_id: str, role: Role, meta: Meta) -> list[Envelope]:
    return [MemberAdded(stream_id=team_id, team_id=team_id, user_id=user_id, role=role,
                        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


def change_role(team_id: str, user_id: str, current: Role | None, role: Role,
                by_role: Role, owners: int, meta: Meta) -> list[Envelope]:
    """Admins change members' roles; only an owner makes or unmakes an owner, and the
    last owner stays one."""
    if current is None:
        raise NotFound(f"user {user_id} is not a member of this team", field="user_id")
    if "owner" in (current, role) and by_role != "owner":
        raise Forbidden("only an owner may make or unmake an owner", field="role")
    if current == "owner" and role != "owner" and owners <= 1:
        raise Conflict("the team's last owner stays an owner", field="role")
    if current == role:
        return []
    return [MemberRoleChanged(stream_id=team_id, team_id=team_id, user_id=user_id, role=role,
                              correlation_id=meta.correlation_id,
                              causation_id=meta.causation_id)]


def delete_team(team_id: str, personal: bool, by_role: Role, projects: int, meta: Meta
                ) -> list[Envelope]:
    """Only an owner deletes a team, never a personal one, and only once its projects
    are gone."""
    if by_role != "owner":
        raise Forbidden("only an owner may delete the team")
    if personal:
        raise Conflict("a personal team is deleted with its account", field="team_id")
    if projects:
        raise Conflict(f"the team still has {projects} project(s): delete them first",
                       field="team_id")
    return [TeamDeleted(stream_id=team_id, team_id=team_id, correlation_id=meta.correlation_id,
                        causation_id=meta.causation_id)]


def remove(team_id: str, user_id: str, current: Role | None, by_role: Role, owners: int,
           meta: Meta) -> list[Envelope]:
    if current is None:
        raise NotFound(f"user {user_id} is not a member of this team", field="user_id")
    if current == "owner" and by_role != "owner":
        raise Forbidden("only an owner may remove an owner", field="user_id")
    if current == "owner" and owners <= 1:
        raise Conflict("the team's last owner cannot be removed", field="user_id")
    return [MemberRemoved(stream_id=team_id, team_id=team_id, user_id=user_id,
                          correlation_id=meta.correlation_id, causation_id=meta.causation_id)]
