"""Request analytics in ClickHouse's ``edge_requests``: the worker inserts the edge's
``EdgeRequestsServed`` batches; the API reads totals, status codes, top paths, hosts and
requests over time of one project over a time range. Every query reads one
``(project_id, ts)`` key range.

A ReplacingMergeTree whose key ends in ``(batch_id, idx)`` drops a redelivered batch;
queries read with FINAL, as the log table does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.ttl import ensure_ttl
from schemas.analytics import (
    AnalyticsOut,
    EdgeRequestsServed,
    HostTraffic,
    PathTraffic,
    TrafficBucket,
)
from schemas.errors import Invalid

TABLE = "edge_requests"
COLUMNS = ["ts", "project_id", "deployment_id", "host", "path", "status", "bytes",
           "duration_ms", "batch_id", "idx", "requests"]
DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=92)
TOP_PATHS = 10
TOP_HOSTS = 20
# The series' step is the first of these that makes at most SERIES_BUCKETS buckets:
# 1 minute for an hour (a little over an hour too), 30 minutes for a day, 3 hours for
# a week.
SERIES_BUCKETS = 72
STEP_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880)

RANGE = (f"FROM {TABLE} FINAL WHERE project_id = {{p:String}} "
         "AND ts >= fromUnixTimestamp64Milli({f:Int64}, 'UTC') "
         "AND ts < fromUnixTimestamp64Milli({t:Int64}, 'UTC')")
BY_STATUS = (f"SELECT status, sum(requests), sum(bytes) {RANGE} GROUP BY status "
             "ORDER BY status")
BY_PATH = (f"SELECT path, sum(requests) AS n, sum(bytes) {RANGE} GROUP BY path "
           f"ORDER BY n DESC, path LIMIT {TOP_PATHS}")
BY_HOST = (f"SELECT host, sum(requests) AS n, sum(bytes) {RANGE} GROUP BY host "
           f"ORDER BY n DESC, host LIMIT {TOP_HOSTS}")
# Buckets start at whole multiples of the step since the epoch (UTC), so that the same
# range asked twice draws the same bars.
BY_TIME = ("SELECT intDiv(toUnixTimestamp64Milli(ts), {b:Int64}) * {b:Int64} AS bucket, "
           f"sum(requests) {RANGE} GROUP BY bucket ORDER BY bucket")


def ttl(retention_days: int) -> str:
    return f"toDateTime(ts) + INTERVAL {int(retention_days)} DAY"


def table_ddl(retention_days: int, name: str = TABLE) -> str:
    """Ordered by ``(project_id, ts)`` so one project's time range is one key range;
    daily partitions let the TTL drop whole days."""
    return f"""
CREATE TABLE IF NOT EXISTS {name} (
    ts DateTime64(3, 'UTC'),
    project_id String,
    deployment_id String,
    host LowCardinality(String),
    path String,
    status UInt16,
    bytes UInt64,
    duration_ms Float32,
    batch_id String,
    idx UInt32,
    requests UInt32 DEFAULT 1
) ENGINE = ReplacingMergeTree
PARTITION BY toDate(ts)
ORDER BY (project_id, ts, batch_id, idx)
TTL {ttl(retention_days)}
SETTINGS ttl_only_drop_parts = 1
"""


def migrate(client: Any, retention_days: int) -> None:
    """Create the table; one from before batch ids (a plain MergeTree the edge wrote
    into) is copied over, each old row its own batch."""
    engine = client.query(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() "
        "AND name = {t:String}", parameters={"t": TABLE}).result_rows
    if engine and engine[0][0] == "MergeTree":
        old = f"{TABLE}_v1"
        client.command(f"RENAME TABLE {TABLE} TO {old}")
        client.command(table_ddl(retention_days))
        kept = ", ".join(COLUMNS[:-3])
        client.command(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT {kept}, "
                       f"'v1', rowNumberInAllBlocks(), 1 FROM {old}")
        client.command(f"DROP TABLE {old}")
    client.command(table_ddl(retention_days))
    # Rows from before requests shared rows stand for one request each.
    client.command(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS requests UInt32 DEFAULT 1")
    ensure_ttl(client, TABLE, ttl(retention_days))


def rows(batches: Iterable[EdgeRequestsServed]) -> list[list[Any]]:
    return [[r.ts, b.project_id, r.deployment_id, r.host, r.path, r.status, r.bytes,
             r.duration_ms, b.event_id, idx, r.count]
            for b in batches for idx, r in enumerate(b.requests)]


def time_range(start: datetime | None, end: datetime | None, now: datetime | None = None
               ) -> tuple[datetime, datetime]:
    """``[from, to)`` in UTC: by default the last 24 hours; naive times are UTC."""
    end = _utc(end) if end else (now or datetime.now(UTC))
    start = _utc(start) if start else end - DEFAULT_RANGE
    if start > end:
        raise Invalid("from must not be after to", field="from")
    if end - start > MAX_RANGE:
        raise Invalid(f"the range may span at most {MAX_RANGE.days} days", field="from")
    return start, end


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def bucket_size(start: datetime, end: datetime) -> timedelta:
    """The shortest step from ``STEP_MINUTES`` that covers the range in at most
    ``SERIES_BUCKETS`` buckets."""
    for minutes in STEP_MINUTES:
        if (end - start) <= timedelta(minutes=minutes) * SERIES_BUCKETS:
            return timedelta(minutes=minutes)
    return timedelta(minutes=STEP_MINUTES[-1])


def series(start: datetime, end: datetime, step: timedelta, counted: dict[int, int]
           ) -> list[TrafficBucket]:
    """Every bucket from the one holding ``start`` to the one before ``end``, with the
    requests ``counted`` (bucket start in ms -> requests), zero for the others."""
    size = _ms_of(step)
    first = _ms(start) // size * size
    return [TrafficBucket(start=datetime.fromtimestamp(ms / 1000, UTC),
                          requests=counted.get(ms, 0))
            for ms in range(first, _ms(end), size)]


def _ms_of(step: timedelta) -> int:
    return int(step.total_seconds()) * 1000


def summary(client: Any, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
    """The project's traffic in ``[start, end)`` (synchronous: run it in a thread)."""
    params = {"p": project_id, "f": _ms(start), "t": _ms(end)}
    statuses = client.query(BY_STATUS, parameters=params).result_rows
    paths = client.query(BY_PATH, parameters=params).result_rows
    hosts = client.query(BY_HOST, parameters=params).result_rows
    step = bucket_size(start, end)
    times = client.query(BY_TIME, parameters=params | {"b": _ms_of(step)}).result_rows
    return AnalyticsOut(
        project_id=project_id, from_=start, to=end,
        requests=sum(int(n) for _, n, _ in statuses),
        bytes=sum(int(b) for _, _, b in statuses),
        status_codes={str(s): int(n) for s, n, _ in statuses},
        top_paths=[PathTraffic(path=p, requests=n, bytes=b) for p, n, b in paths],
        by_host=[HostTraffic(host=h, requests=n, bytes=b) for h, n, b in hosts],
        bucket_seconds=int(step.total_seconds()),
        series=series(start, end, step, {int(ms): int(n) for ms, n in times}),
    )


class RequestAnalytics:
    """Both sides on a shared ClickHouse client; ``lock`` is the lock of every other
    user of that client (chdb's client is synchronous and in-process)."""

    def __init__(self, client: Any, lock: threading.Lock, retention_days: int) -> None:
        self.client = client
        self._lock = lock
        with lock:
            migrate(client, retention_days)

    def _insert(self, data: list[list[Any]]) -> None:
        with self._lock:
            self.client.insert(TABLE, data, column_names=COLUMNS)

    async def insert(self, batches: Iterable[EdgeRequestsServed]) -> int:
        """Store the batches' requests; a batch stored before replaces itself."""
        data = rows(batches)
        if data:
            await asyncio.to_thread(self._insert, data)
        return len(data)

    def _summary(self, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
        with self._lock:
            return summary(self.client, project_id, start, end)

    async def summary(self, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
        return await asyncio.to_thread(self._summary, project_id, start, end)
