"""Request analytics: the ClickHouse table the edge writes one row per request into
(shared by the writer in ``edge.analytics`` and the reader in ``projections.analytics``),
and the API's answer.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

TABLE = "edge_requests"
COLUMNS = ["ts", "project_id", "deployment_id", "host", "path", "status", "bytes",
           "duration_ms"]
MAX_PATH = 1024  # longer paths are stored truncated


def table_ddl(retention_days: int) -> str:
    """Ordered by ``(project_id, ts)`` so one project's time range is one key range;
    daily partitions let the TTL drop whole days."""
    return f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    ts DateTime64(3, 'UTC'),
    project_id String,
    deployment_id String,
    host LowCardinality(String),
    path String,
    status UInt16,
    bytes UInt64,
    duration_ms Float32
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (project_id, ts)
TTL toDateTime(ts) + INTERVAL {int(retention_days)} DAY
SETTINGS ttl_only_drop_parts = 1
"""


class PathTraffic(BaseModel):
    path: str
    requests: int
    bytes: int


class HostTraffic(BaseModel):
    host: str
    requests: int
    bytes: int


class AnalyticsOut(BaseModel):
    project_id: str
    from_: datetime = Field(serialization_alias="from", description="start (inclusive)")
    to: datetime = Field(description="end (exclusive)")
    requests: int
    bytes: int = Field(description="response bytes sent")
    status_codes: dict[str, int] = Field(description='status -> requests, e.g. {"200": 12}')
    top_paths: list[PathTraffic] = Field(description="the 10 most requested paths")
    by_host: list[HostTraffic] = Field(description="hostnames served, most requested first")
