"""Build log lines on ``buildspace.logs``, keyed by deployment id.

Every line has the identity ``(deployment_id, seq)``; one message carries a small
batch of consecutive lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.envelope import Envelope


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
