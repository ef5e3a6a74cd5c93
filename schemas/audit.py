"""Who did what: the actor an event was appended by (carried in its Kafka record's
``actor`` header, outside the event's schema; ``DeploymentRequested`` also names it in
its body), and the audit trail's API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActorKind = Literal["user", "token", "webhook", "deploy-hook", "intake", "system"]


class Actor(BaseModel):
    """Who acted: a user's session or token, a Git webhook, a deploy hook, a command
    from the intake topic, or the system (the worker, the builders)."""

    model_config = ConfigDict(frozen=True)  # travels inside frozen events

    kind: ActorKind
    id: str | None = Field(default=None, description="the token, webhook delivery or deploy "
                                                     "hook id; the intake's sender")
    user_id: str | None = Field(default=None, description="the user, for a session or token")
    ip: str | None = Field(default=None, description="the client's address, for a session "
                                                     "or token")


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: Actor
    action: str
    resource: str
    project_id: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    next_cursor: int | None
