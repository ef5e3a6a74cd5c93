"""Request analytics: the edge's request records on ``buildspace.requests`` (keyed by
project id, a batch per message), and the API's answer.

A batch's ``event_id`` is its identity: with a record's index in the batch it makes
the key that lets the worker's projection drop a redelivered batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import Envelope

MAX_PATH = 1024  # longer paths are recorded truncated


class RequestRecord(BaseModel):
    """Requests the edge answered with the same deployment, host, path and status
    within one flush (about a second): how many, their bytes, their mean duration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: datetime = Field(description="when the first of them was answered (UTC)")
    deployment_id: str
    host: str
    path: str = Field(max_length=MAX_PATH)
    status: int = Field(ge=100, le=599)
    count: int = Field(default=1, ge=1, description="how many requests")
    bytes: int = Field(ge=0, description="response body bytes sent, in all")
    duration_ms: float = Field(ge=0, description="mean time to answer")


class EdgeRequestsServed(Envelope):
    """A batch of one project's requests, as one edge process answered them."""

    type: Literal["EdgeRequestsServed"] = "EdgeRequestsServed"
    project_id: str
    requests: list[RequestRecord]


class PathTraffic(BaseModel):
    path: str
    requests: int
    bytes: int


class HostTraffic(BaseModel):
    host: str
    requests: int
    bytes: int


class TrafficBucket(BaseModel):
    start: datetime = Field(description="the bucket's start (UTC); it spans bucket_seconds")
    requests: int


class AnalyticsOut(BaseModel):
    project_id: str
    from_: datetime = Field(serialization_alias="from", description="start (inclusive)")
    to: datetime = Field(description="end (exclusive)")
    requests: int
    bytes: int = Field(description="response bytes sent")
    status_codes: dict[str, int] = Field(description='status -> requests, e.g. {"200": 12}')
    top_paths: list[PathTraffic] = Field(description="the 10 most requested paths")
    by_host: list[HostTraffic] = Field(description="hostnames served, most requested first")
    bucket_seconds: int = Field(description="each series bucket's length: a whole number "
                                            "of minutes or hours, for at most 72 buckets")
    series: list[TrafficBucket] = Field(description="requests over time, oldest first, a "
                                                    "bucket for each step (empty ones too); "
                                                    "the first starts at or before from")
