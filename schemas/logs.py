"""Build log lines on ``buildspace.logs``, keyed by deployment id.

Every line has the identity ``(deployment_id, seq)``; one message carries a small
batch of consecutive lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.envelope import Envelope
from schemas.upcasting import upcast


class LogLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    stream: Literal["stdout", "stderr", "system"]
    ts: datetime
    line: str


class BuildLogAppended(Envelope):
    type: Literal["BuildLogAppended"] = "BuildLogAppended"
    project_id: str
    deployment_id: str
    lines: list[LogLine]


class BuildHeartbeat(Envelope):
    """A running build is alive (sent every ``heartbeat_seconds``, also when silent)."""

    type: Literal["BuildHeartbeat"] = "BuildHeartbeat"
    project_id: str
    deployment_id: str
    last_seq: int


LogMessage = Annotated[BuildLogAppended | BuildHeartbeat, Field(discriminator="type")]
log_message_adapter: TypeAdapter[LogMessage] = TypeAdapter(LogMessage)


def parse_log_message(data: bytes | dict[str, Any]) -> LogMessage:
    """Parse a message of ``buildspace.logs``, upcast like every event (raises
    ``pydantic.ValidationError``, or ``ValueError`` for bytes that are not JSON)."""
    parsed = orjson.loads(data) if isinstance(data, bytes | bytearray | str) else data
    return log_message_adapter.validate_python(upcast(parsed))
