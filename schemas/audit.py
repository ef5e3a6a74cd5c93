"""Who did what: the actor an event was appended by (carried in its Kafka record's
``actor`` header, outside the event's schema), and the audit trail's API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

ActorKind = Literal["user", "token", "webhook", "deploy-hook", "intake", "system"]


class Actor(BaseModel):
    kind: ActorKind
    id: str | None = None  # the token, delivery or hook id; the intake's sender
    user_id: str | None = None
    ip: str | None = None


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
