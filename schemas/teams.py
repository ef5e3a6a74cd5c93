"""Teams: every project belongs to one, and a user's role in it says what they may do.

| role | may |
|---|---|
| viewer | read |
| member | read, deploy |
| admin | read, deploy, write, admin (members, tokens, deletion) |
| owner | all of admin, plus deleting and transferring the team |

Each user gets a personal team, of which they are the owner, when they are created.
Projects made before accounts existed have no team in their events: they belong to the
instance owner's personal team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.accounts import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    SCOPES,
    Email,
    Scope,
)
from schemas.envelope import Envelope

Role = Literal["viewer", "member", "admin", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "member", "admin", "owner")
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    "viewer": frozenset({"read"}),
    "member": frozenset({"read", "deploy"}),
    "admin": frozenset(SCOPES),
    "owner": frozenset(SCOPES),
}
MAX_TEAM_NAME = 63


class TeamCreated(Envelope):
    type: Literal["TeamCreated"] = "TeamCreated"
    team_id: str
    name: str
    personal: bool
    created_by: str


class MemberAdded(Envelope):
    type: Literal["MemberAdded"] = "MemberAdded"
    team_id: str
    user_id: str
    role: Role


class CreateTeamBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=MAX_TEAM_NAME)


class TeamOut(BaseModel):
    id: str
    name: str
    personal: bool
    role: Role = Field(description="the caller's role in it")
    require_2fa: bool = Field(default=False, description="members without two-factor "
                                                         "sign-in cannot reach its projects")


class TeamDeleted(Envelope):
    type: Literal["TeamDeleted"] = "TeamDeleted"
    team_id: str


class TeamSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_2fa: bool


class TeamSettingsChanged(Envelope):
    type: Literal["TeamSettingsChanged"] = "TeamSettingsChanged"
    team_id: str
    require_2fa: bool


class InvitationCreated(Envelope):
    """Someone may join the team with this role (never the invitation's secret)."""

    type: Literal["InvitationCreated"] = "InvitationCreated"
    team_id: str
    invitation_id: str
    email: str
    role: Role
    invited_by: str


class MemberRoleChanged(Envelope):
    type: Literal["MemberRoleChanged"] = "MemberRoleChanged"
    team_id: str
    user_id: str
    role: Role


class MemberRemoved(Envelope):
    type: Literal["MemberRemoved"] = "MemberRemoved"
    team_id: str
    user_id: str


class InviteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Role = "member"


class InvitationOut(BaseModel):
    id: str
    team_id: str
    email: str
    role: Role
    expires_at: datetime
    invitation: str = Field(description="shown once: the secret to sign up with")
    link: str = Field(description="POST /v1/auth/signup with it")


class SignupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)
    invitation: str | None = Field(default=None, max_length=200,
                                   description="required unless BUILDSPACE_SIGNUP=open")


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: Role


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
