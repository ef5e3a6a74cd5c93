"""Replaying read models (``POST /v1/replays``): which projection to rebuild, and the
NDJSON lines that report the replay, one JSON object a line, ``type`` first.

A replay answers ``started``, then ``progress`` lines while it reads the events topic,
then one ``swapped`` line (the summary) once the fresh tables are in place, or one
``failed`` line: nothing was swapped.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# ``projections.registry.REPLAYABLE`` is keyed by these (a unit test holds them equal).
ProjectionName = Literal["control_plane", "routes", "hooks", "outgoing_webhooks", "audit"]
Phase = Literal["replaying", "catching-up"]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projection: ProjectionName | None = Field(
        default=None, description="the one read model to rebuild; every replayable one "
                                  "when left out")


class ReplayStarted(BaseModel):
    type: Literal["started"] = "started"
    projections: list[str]
    partitions: int = Field(description="partitions of the events topic")
    events: int = Field(description="events to read: up to where the live projections are")


class ReplayProgress(BaseModel):
    type: Literal["progress"] = "progress"
    phase: Phase = Field(description="replaying: from the first event; catching-up: the "
                                     "events the live projections applied meanwhile")
    events_read: int
    events_total: int
    applied: dict[str, int] = Field(description="events applied, per projection")
    elapsed_seconds: float


class ReplaySwapped(BaseModel):
    """The summary: the fresh tables replaced the live ones in one transaction."""

    type: Literal["swapped"] = "swapped"
    projections: list[str]
    tables: list[str] = Field(description="the tables swapped in")
    events_read: int
    applied: dict[str, int] = Field(description="events applied, per projection")
    malformed: int = Field(description="events skipped as malformed (dead-lettered live)")
    duplicates: int = Field(description="events skipped as appended twice")
    swap_seconds: float = Field(description="how long the swap held the live tables")
    elapsed_seconds: float


class ReplayFailed(BaseModel):
    type: Literal["failed"] = "failed"
    message: str


ReplayLine = Annotated[ReplayStarted | ReplayProgress | ReplaySwapped | ReplayFailed,
                       Field(discriminator="type")]
