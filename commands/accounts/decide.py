"""Deciding for accounts, pure: the events of a new user and of a token issued or
revoked, and what a token may hand on. Secrets and their hashes are made by the caller
and never enter an event."""

from __future__ import annotations

from datetime import datetime

from schemas.accounts import SCOPES, Scope, TokenCreated, TokenKind, TokenRevoked, UserCreated
from schemas.envelope import Envelope, Meta
from schemas.errors import Forbidden, NotFound


def create_user(user_id: str, email: str, instance_owner: bool, meta: Meta
                ) -> list[Envelope]:
    return [UserCreated(stream_id=user_id, user_id=user_id, email=email,
                        instance_owner=instance_owner, correlation_id=meta.correlation_id,
                        causation_id=meta.causation_id)]


def issue_token(user_id: str, token_id: str, kind: TokenKind, name: str,
                scopes: list[Scope], project_id: str | None, team_id: str | None,
                expires_at: datetime | None, meta: Meta) -> list[Envelope]:
    return [TokenCreated(stream_id=user_id, user_id=user_id, token_id=token_id, kind=kind,
                         name=name, scopes=scopes, project_id=project_id, team_id=team_id,
                         expires_at=expires_at, correlation_id=meta.correlation_id,
                         causation_id=meta.causation_id)]


def handed_on(held: tuple[Scope, ...], held_project: str | None, wanted: list[Scope],
              wanted_project: str | None) -> tuple[list[Scope], str | None]:
    """What a token holding ``held`` (limited to ``held_project``) may issue: never more
    scopes than it has, and a project-limited token only for its project."""
    extra = [s for s in wanted if s not in held]
    if extra:
        raise Forbidden(f"this token cannot grant {', '.join(extra)}: it holds "
                        f"{', '.join(held) or 'no scope'}", field="scopes")
    if held_project is not None and wanted_project not in (None, held_project):
        raise Forbidden("this token is limited to another project", field="project_id")
    return [s for s in SCOPES if s in wanted], wanted_project or held_project


def revoke_token(user_id: str, token_id: str, exists: bool, meta: Meta) -> list[Envelope]:
    if not exists:
        raise NotFound(f"token {token_id} not found", field="token_id")
    return [TokenRevoked(stream_id=user_id, user_id=user_id, token_id=token_id,
                         correlation_id=meta.correlation_id, causation_id=meta.causation_id)]
