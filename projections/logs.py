"""Build logs in ClickHouse: a ReplacingMergeTree ordered by ``(deployment_id, seq)``
so a redelivered line replaces itself, read with FINAL. The same SQL runs on chdb
(in-process) and on a ClickHouse server.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from projections.ttl import ensure_ttl
from schemas.logs import BuildLogAppended

COLUMNS = ["deployment_id", "seq", "project_id", "stream", "ts", "line"]


# ANSI escape sequences (CSI ... final byte), stripped into the ``plain`` column.
ANSI = r"\\x1b\\[[0-9;?]*[ -/]*[@-~]"


def ttl(retention_days: int) -> str:
    """Lines go ``retention_days`` after they were stored, like the logs topic's."""
    return f"inserted_at + INTERVAL {int(retention_days)} DAY"


def schema(retention_days: int) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS build_logs (
    deployment_id String,
    seq UInt64,
    project_id String,
    stream LowCardinality(String),
    ts DateTime64(3, 'UTC'),
    line String,
    plain String MATERIALIZED replaceRegexpAll(line, '{ANSI}', ''),
    inserted_at DateTime DEFAULT now()
) ENGINE = ReplacingMergeTree
ORDER BY (deployment_id, seq)
TTL {ttl(retention_days)}
"""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def log_columns(batches: Iterable[BuildLogAppended]) -> list[list[Any]]:
    """The batches' lines as the columns of ``COLUMNS``, timestamps as milliseconds: a
    column-oriented insert of plain ints and strings costs ClickHouse's client a third
    of a row-oriented one with datetimes (measured: 0.16 s against 0.5 s per 100,000)."""
    deployments: list[str] = []
    seqs: list[int] = []
    projects: list[str] = []
    streams: list[str] = []
    stamps: list[int] = []
    texts: list[str] = []
    for batch in batches:
        deployments += [batch.deployment_id] * len(batch.lines)
        projects += [batch.project_id] * len(batch.lines)
        for line in batch.lines:
            seqs.append(line.seq)
            streams.append(line.stream)
            stamps.append((_aware(line.ts) - EPOCH) // MILLISECOND)
            texts.append(line.line)
    return [deployments, seqs, projects, streams, stamps, texts]


class LogRow(BaseModel):
    deployment_id: str
    seq: int
    stream: str
    ts: datetime
    line: str
    plain: str


class LogStore:
    """Thread-safe access to the log table (chdb's client is synchronous)."""

    def __init__(self, client: Any, retention_days: int) -> None:
        self.client = client
        self._lock = threading.Lock()
        with self._lock:
            client.command(schema(retention_days))
            client.command("ALTER TABLE build_logs ADD COLUMN IF NOT EXISTS plain String "
                           f"MATERIALIZED replaceRegexpAll(line, '{ANSI}', '')")
            ensure_ttl(client, "build_logs", ttl(retention_days))

    def _insert(self, columns: list[list[Any]]) -> None:
        with self._lock:
            self.client.insert("build_logs", columns, column_names=COLUMNS,
                               column_oriented=True)

    async def insert(self, batches: Iterable[BuildLogAppended]) -> int:
        columns = log_columns(batches)
        if columns[0]:
            await asyncio.to_thread(self._insert, columns)
        return len(columns[0])

    def _page(self, deployment_id: str, after_seq: int, limit: int, q: str | None,
              stream: str | None, before_seq: int | None) -> list[LogRow]:
        where = ["deployment_id = {d:String}", "seq > {a:UInt64}"]
        if q:
            where.append("positionCaseInsensitiveUTF8(plain, {q:String}) > 0")
        if stream:
            where.append("stream = {s:String}")
        if before_seq is not None:
            where.append("seq < {b:UInt64}")
        with self._lock:
            result = self.client.query(
                "SELECT deployment_id, seq, stream, ts, line, plain FROM build_logs FINAL "
                f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT {{n:UInt32}}",
                parameters={"d": deployment_id, "a": after_seq, "n": limit, "q": q or "",
                            "s": stream or "", "b": before_seq or 0})
        return [LogRow(**dict(zip(result.column_names, row, strict=True)))
                for row in result.result_rows]

    async def page(self, deployment_id: str, after_seq: int = 0, limit: int = 1000, *,
                   q: str | None = None, stream: str | None = None,
                   before_seq: int | None = None) -> list[LogRow]:
        """Lines after ``after_seq`` in seq order; ``q`` matches the plain text
        case-insensitively, ``stream`` keeps stdout, stderr or system lines."""
        return await asyncio.to_thread(self._page, deployment_id, after_seq, limit, q, stream,
                                       before_seq)

    def _max_seq(self, deployment_id: str) -> int:
        with self._lock:
            result = self.client.query(
                "SELECT max(seq) FROM build_logs WHERE deployment_id = {d:String}",
                parameters={"d": deployment_id})
        return int(result.result_rows[0][0] or 0)

    async def wait_for_seq(self, deployment_id: str, seq: int, timeout: float) -> bool:
        """Wait (bounded) until every line up to ``seq`` is stored: a finished
        deployment's log is complete when it is read."""
        deadline = time.monotonic() + timeout
        while await asyncio.to_thread(self._max_seq, deployment_id) < seq:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def close(self) -> None:
        with self._lock:
            self.client.close()
