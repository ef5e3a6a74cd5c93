"""The envelope every event carries, and the orjson codec for events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


def new_id() -> str:
    """A random 32-hex-digit id (projects, deployments, events)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Fields shared by every event. ``stream_id`` is the Kafka key of the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(default_factory=new_id)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    stream_id: str
    causation_id: str | None = None
    correlation_id: str | None = None

    def caused(self, **fields: Any) -> dict[str, Any]:
        """Envelope fields for an event caused by this one."""
        return {
            "causation_id": self.event_id,
            "correlation_id": self.correlation_id or self.event_id,
            **fields,
        }


class Meta(BaseModel):
    """Why an event happened: the command or event that caused it, and the request's
    correlation id (shared by everything one user action led to)."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str | None = None
    causation_id: str | None = None

    @classmethod
    def new(cls) -> Meta:
        return cls(correlation_id=new_id())


def dumps(model: BaseModel) -> bytes:
    return orjson.dumps(model.model_dump(mode="json"))
