"""Request analytics read from ClickHouse's ``edge_requests`` (written by the edge's
``RequestLog``): totals, status codes, top paths and hosts of one project over a time
range. Every query reads one ``(project_id, ts)`` key range of the table's ORDER BY.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.analytics import TABLE, AnalyticsOut, HostTraffic, PathTraffic, table_ddl
from schemas.errors import Invalid

DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=92)
TOP_PATHS = 10
TOP_HOSTS = 20

RANGE = (f"FROM {TABLE} WHERE project_id = {{p:String}} "
         "AND ts >= fromUnixTimestamp64Milli({f:Int64}, 'UTC') "
         "AND ts < fromUnixTimestamp64Milli({t:Int64}, 'UTC')")
BY_STATUS = f"SELECT status, count(), sum(bytes) {RANGE} GROUP BY status ORDER BY status"
BY_PATH = (f"SELECT path, count() AS n, sum(bytes) {RANGE} GROUP BY path "
           f"ORDER BY n DESC, path LIMIT {TOP_PATHS}")
BY_HOST = (f"SELECT host, count() AS n, sum(bytes) {RANGE} GROUP BY host "
           f"ORDER BY n DESC, host LIMIT {TOP_HOSTS}")


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


def summary(client: Any, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
    """The project's traffic in ``[start, end)`` (synchronous: run it in a thread)."""
    params = {"p": project_id, "f": _ms(start), "t": _ms(end)}
    statuses = client.query(BY_STATUS, parameters=params).result_rows
    paths = client.query(BY_PATH, parameters=params).result_rows
    hosts = client.query(BY_HOST, parameters=params).result_rows
    return AnalyticsOut(
        project_id=project_id, from_=start, to=end,
        requests=sum(int(n) for _, n, _ in statuses),
        bytes=sum(int(b) for _, _, b in statuses),
        status_codes={str(s): int(n) for s, n, _ in statuses},
        top_paths=[PathTraffic(path=p, requests=n, bytes=b) for p, n, b in paths],
        by_host=[HostTraffic(host=h, requests=n, bytes=b) for h, n, b in hosts],
    )


class RequestAnalytics:
    """The query side on a shared ClickHouse client; ``lock`` is the lock of every other
    user of that client (chdb's client is synchronous and in-process)."""

    def __init__(self, client: Any, lock: threading.Lock, retention_days: int) -> None:
        self.client = client
        self._lock = lock
        with lock:
            client.command(table_ddl(retention_days))

    def _summary(self, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
        with self._lock:
            return summary(self.client, project_id, start, end)

    async def summary(self, project_id: str, start: datetime, end: datetime) -> AnalyticsOut:
        return await asyncio.to_thread(self._summary, project_id, start, end)
