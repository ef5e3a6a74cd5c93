"""Dead letters: the record a malformed message becomes on ``<topic>.dlq`` (written by
``streams.dlq``, projected by ``projections.dead_letters``), and the API's answers
about them.

A record is JSON: where the message was (``topic``, ``partition``, ``offset``), why it
was refused (``reason``), and its key and value as base64 (null for none).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.audit import Actor

REASON_MAX = 2000
UNREADABLE = "unreadable dead letter"
LetterState = Literal["pending", "redriven"]


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


class DeadLetterRecord(BaseModel):
    """One record of a ``.dlq`` topic."""

    model_config = ConfigDict(frozen=True)

    topic: str = Field(min_length=1, max_length=249)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason: str = Field(max_length=REASON_MAX)
    key: str | None = None
    value: str | None = None

    @field_validator("key", "value")
    @classmethod
    def _base64(cls, text: str | None) -> str | None:
        try:
            unb64(text)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64") from None
        return text

    @classmethod
    def of(cls, topic: str, partition: int, offset: int, key: bytes | None,
           value: bytes | None, reason: str) -> DeadLetterRecord:
        return cls(topic=topic, partition=partition, offset=offset,
                   reason=reason[:REASON_MAX], key=b64(key), value=b64(value))


class DeadLetterOut(BaseModel):
    id: str = Field(description="where the dead letter is: `<dlq topic>:<partition>:<offset>`")
    topic: str = Field(description="the topic the message was refused on")
    partition: int | None = Field(description="null for an unreadable dead letter")
    offset: int | None = Field(description="null for an unreadable dead letter")
    reason: str
    key: str | None = Field(description="the message's key as text (invalid UTF-8 replaced)")
    value_preview: str = Field(description="the value's first 2 KB as text (invalid UTF-8 "
                                           "replaced)")
    value_size: int = Field(description="the value's size in bytes")
    dead_lettered_at: datetime
    state: LetterState
    redriven_at: datetime | None = None
    redriven_by: Actor | None = None
    redriven_partition: int | None = Field(default=None, description="where the redriven "
                                           "message landed, once known")
    redriven_offset: int | None = None


class DeadLetterDetailOut(DeadLetterOut):
    """A dead letter with its whole key and value."""

    key_base64: str | None
    value_base64: str | None
