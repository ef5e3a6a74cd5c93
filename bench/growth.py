"""Growth per 1,000 deployments: the bytes PostgreSQL, ClickHouse and Kafka keep for
them, against a real PostgreSQL (the local server the tests use, else embedded) and a
chdb data dir.

N deployments (``--deployments``), ``--per-project`` to a project, go through the
worker's own projection code as the worker runs it (``apply_once`` with the event's id,
four partitions at once):

- each deployment's control events (DeploymentRequested by a user, BuildStarted,
  BuildPlanned, then DeploymentReady, or DeploymentFailed for one in ten; one in five
  is a branch preview) into the six event projections, and the route changes those
  return onto the routes topic;
- its build log (``--lines`` lines of ``--line-bytes`` bytes, ``--batch`` to a message,
  and a heartbeat per 10 s of a ``--build-seconds`` build) into ``build_logs``;
- ``--requests`` edge request records, over the last 30 days, into ``edge_requests``.

It prints, per 1,000 deployments (scaled from N): the raw data, which is the baseline
(the JSON of the events and request records, the text of the log lines); what the
topics retain, estimated as each record's key, value and headers plus 70 bytes of
framing (a one-record batch); PostgreSQL's bytes per table (``pg_total_relation_size``
as written, and after ``VACUUM FULL``); ClickHouse's (``system.parts`` ``bytes_on_disk``
after ``OPTIMIZE TABLE … FINAL``).

    .venv/bin/python -m bench.growth [--deployments 1000] [--per-project 20]
        [--lines 200] [--line-bytes 80] [--batch 20] [--requests 100]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.growth_data import USER, Deployment, deployment, project_created  # noqa: E402
from infra import actors  # noqa: E402
from infra.compose.migrate import migrate  # noqa: E402
from infra.db import clickhouse_client, open_pool  # noqa: E402
from infra.kafka import Position  # noqa: E402
from infra.secrets import EnvCipher  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections import audit, control_plane, hooks, outgoing, routes  # noqa: E402
from projections.analytics import RequestAnalytics  # noqa: E402
from projections.logs import LogStore  # noqa: E402
from projections.tracking import apply_once  # noqa: E402
from schemas.audit import Actor  # noqa: E402
from schemas.envelope import Envelope, dumps  # noqa: E402
from schemas.routes import Route  # noqa: E402
from streams.scheduler import NAME as SCHEDULER  # noqa: E402
from streams.scheduler import Scheduler  # noqa: E402
from tests.support.platform import fresh_database  # noqa: E402

PARTITIONS = 4
RECORD_FRAMING = 70  # a record alone in its batch: a 61-byte batch header, ~9 of its own
TABLES = ("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN "
          "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
          "AND c.relkind = 'r'")
PARTS = ("SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE active "
         "AND database = currentDatabase() GROUP BY table ORDER BY table")


ApplyBy = Callable[[Any, Envelope, Actor], Awaitable[Any]]


def ignoring_actor(apply: Callable[[Any, Envelope], Awaitable[Any]]) -> ApplyBy:
    async def apply_by(conn: Any, event: Envelope, by: Actor) -> Any:
        return await apply(conn, event)
    return apply_by


def bound(apply: ApplyBy, event: Envelope, by: Actor) -> Callable[[Any], Awaitable[Any]]:
    """What ``apply_once`` runs in its transaction, as the worker's agents bind it."""
    return lambda conn: apply(conn, event, by)


class Tally:
    """Bytes appended per topic (as Kafka stores them) and the raw data, the baseline."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.topics: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        self.raw: Counter[str] = Counter()
        self.routes: dict[str, int] = {}  # hostname -> its last record: what compaction keeps

    def append(self, topic: str, key: str, value: bytes | None, by: Actor) -> int:
        header = len(actors.HEADER) + len(orjson.dumps(by.model_dump(exclude_none=True)))
        size = len(key.encode()) + len(value or b"") + header + RECORD_FRAMING
        self.topics[topic] += size
        self.records[topic] += 1
        return size

    def event(self, event: Envelope, by: Actor) -> None:
        value = dumps(event)
        self.raw["control events (JSON)"] += len(value)
        self.append(self.s.topic_events, event.stream_id, value, by)

    def route(self, change: Any) -> None:
        value = dumps(change) if isinstance(change, Route) else None
        self.routes[change.hostname] = self.append(self.s.topic_routes, change.hostname, value,
                                                   actors.SYSTEM)

    def deployment(self, d: Deployment) -> None:
        for message in d.log_messages:
            self.append(self.s.topic_logs, d.deployment_id, dumps(message), actors.SYSTEM)
        self.raw["log text"] += sum(len(line.line.encode()) for m in d.logs for line in m.lines)
        value = dumps(d.requests)
        self.raw["request records (JSON)"] += len(value)
        self.append(self.s.topic_requests, d.requests.project_id, value, actors.SYSTEM)


class Projections:
    """The worker's event projections on one pool, and its two ClickHouse stores."""

    def __init__(self, s: Settings, pool: Any, client: Any, tally: Tally) -> None:
        self.pool, self.tally = pool, tally
        self.logs = LogStore(client, s.log_retention_days)
        self.analytics = RequestAnalytics(client, self.logs._lock, s.request_retention_days)
        scheduler = Scheduler(SimpleNamespace(settings=s, events=None),
                              EnvCipher(base64.urlsafe_b64encode(os.urandom(32))))
        self.appliers: dict[str, ApplyBy] = {
            control_plane.NAME: control_plane.apply, audit.NAME: audit.apply,
            routes.NAME: ignoring_actor(routes.apply), hooks.NAME: ignoring_actor(hooks.apply),
            outgoing.NAME: ignoring_actor(outgoing.applier(s)),
            SCHEDULER: ignoring_actor(scheduler.apply)}

    async def event(self, pos: Position, event: Envelope, by: Actor) -> None:
        self.tally.event(event, by)
        for name, apply in self.appliers.items():
            _, result = await apply_once(self.pool, name, pos, bound(apply, event, by),
                                         event.event_id)
            if name == routes.NAME:
                for change in result or []:
                    self.tally.route(change)

    async def stored(self, done: list[Deployment]) -> None:
        await self.logs.insert([m for d in done for m in d.logs])
        await self.analytics.insert([d.requests for d in done])


async def run_partition(p: Projections, part: int, projects: list[int], args: Any) -> None:
    offset = 0
    for index in projects:
        created = project_created(index)
        await p.event(Position("buildspace.events", part, offset), created, USER)
        offset += 1
        done = []
        for number in range(1, args.per_project + 1):
            d = deployment(created, number, args)
            for event, by in d.events:
                await p.event(Position("buildspace.events", part, offset), event, by)
                offset += 1
            p.tally.deployment(d)
            done.append(d)
        await p.stored(done)


async def measure(dsn: str, data: Path, args: Any) -> None:
    s = Settings(database_url=dsn, clickhouse_dsn=f"chdb://{data / 'clickhouse'}")
    pool = await open_pool(s)
    client = clickhouse_client(s)
    try:
        await migrate(pool)
        tally = Tally(s)
        p = Projections(s, pool, client, tally)
        empty = await table_sizes(pool)
        started = time.perf_counter()
        projects = range(args.deployments // args.per_project)
        await asyncio.gather(*(run_partition(p, part, list(projects)[part::PARTITIONS], args)
                               for part in range(PARTITIONS)))
        took = time.perf_counter() - started
        n = len(projects) * args.per_project
        written = await table_sizes(pool)
        await pool.execute("VACUUM FULL")
        live = await table_sizes(pool)
        for table in ("build_logs", "edge_requests"):
            client.command(f"OPTIMIZE TABLE {table} FINAL")
        parts = client.query(PARTS).result_rows
        versions = (f"PostgreSQL {await pool.fetchval('SHOW server_version')}, ClickHouse "
                    f"{client.query('SELECT version()').result_rows[0][0]} (chdb)")
    finally:
        await pool.close()
        client.close()
    print(versions)
    report(args, n, took, tally, {t: (written[t] - empty[t], live[t] - empty[t])
                                  for t in written if written[t] > empty[t]}, parts)


async def table_sizes(pool: Any) -> dict[str, int]:
    return {name: size for name, size in await pool.fetch(TABLES)}


def mb(n: float) -> str:
    return f"{n / 1e6:10.2f} MB"


def report(args: Any, n: int, took: float, t: Tally, pg: dict[str, tuple[int, int]],
           parts: list[Any]) -> None:
    k = 1000 / n
    print(f"{n:,} deployments ({n // args.per_project} projects) projected in {took:.0f} s; "
          f"figures per 1,000 deployments (x{k:g})\nper deployment: 4 control events, "
          f"{args.lines} log lines of {args.line_bytes} bytes in messages of {args.batch}, "
          f"{args.build_seconds // 10} heartbeats, {args.requests} request records\n")
    print("raw data (the baseline)")
    for kind, size in t.raw.items():
        print(f"  {kind:<38}{mb(size * k)}")
    events_raw, logs_raw = t.raw["control events (JSON)"], t.raw["log text"]
    requests_raw = t.raw["request records (JSON)"]
    print("\nKafka: appended to each topic (key, value, headers, 70 B framing a record)")
    compacted = sum(t.routes.values())
    for topic, raw in ((t.s.topic_events, events_raw), (t.s.topic_logs, logs_raw),
                       (t.s.topic_routes, 0), (t.s.topic_requests, requests_raw)):
        ratio = f"{t.topics[topic] / raw:5.2f} x raw" if raw else ""
        print(f"  {topic:<22}{t.records[topic] * k:9,.0f} records{mb(t.topics[topic] * k)}  "
              f"{ratio}")
    print(f"  {'  after compaction':<22}{len(t.routes) * k:9,.0f} records"
          f"{mb(compacted * k)}  (the last record of each hostname)")
    total = sum(t.topics.values()) - t.topics[t.s.topic_routes] + compacted
    print(f"  {'total retained (routes compacted)':<38}{mb(total * k)}")
    print("\nPostgreSQL: growth per table (pg_total_relation_size: as written, after "
          "VACUUM FULL)")
    for table, (written, live) in sorted(pg.items(), key=lambda i: -i[1][0]):
        print(f"  {table:<26}{mb(written * k)}{mb(live * k)}  "
              f"{live / n:7,.0f} B a deployment")
    written, live = (sum(v[i] for v in pg.values()) for i in (0, 1))
    print(f"  {'total':<26}{mb(written * k)}{mb(live * k)}  {live / events_raw:5.2f} x "
          "the control events' JSON")
    print("\nClickHouse: bytes on disk after OPTIMIZE FINAL (system.parts)")
    for table, rows, size in parts:
        raw = logs_raw if table == "build_logs" else requests_raw
        print(f"  {table:<26}{int(rows) * k:11,.0f} rows{mb(int(size) * k)}  "
              f"{int(size) / raw:5.2f} x raw")
    print(f"  {'total':<42}{mb(sum(int(s) for _, _, s in parts) * k)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--per-project", type=int, default=20)
    parser.add_argument("--lines", type=int, default=200, help="log lines a deployment")
    parser.add_argument("--line-bytes", type=int, default=80)
    parser.add_argument("--batch", type=int, default=20, help="log lines a message")
    parser.add_argument("--build-seconds", type=int, default=60)
    parser.add_argument("--requests", type=int, default=100, help="request records a "
                                                                  "deployment")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database() as dsn:
        asyncio.run(measure(dsn, Path(tmp), args))


if __name__ == "__main__":
    main()
