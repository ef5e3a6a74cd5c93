"""Request analytics: the edge's recorder publishes batches without ever blocking a
request (and keeps a batch's id across retries); the batches travel through the real
broker; the projection stores a redelivered batch once in real ClickHouse (chdb); the
query side sums one project's range."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from edge.analytics import RequestLog
from infra.kafka import EventLog
from infra.settings import Settings
from projections.analytics import RequestAnalytics, migrate, summary, time_range
from schemas.analytics import EdgeRequestsServed, RequestRecord
from schemas.errors import Invalid
from tests.support.waiting import eventually_async


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory):
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path_factory.mktemp('ch')}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def analytics(chdb) -> RequestAnalytics:
    return RequestAnalytics(chdb, threading.Lock(), 30)


def count(client, project_id: str) -> int:
    return client.query("SELECT count() FROM edge_requests FINAL WHERE project_id = {p:String}",
                        parameters={"p": project_id}).result_rows[0][0]


class Collector:
    """A publisher that keeps what it is given; ``failures`` attempts fail first."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[EdgeRequestsServed] = []
        self.attempts: list[str] = []
        self.failures = failures

    async def __call__(self, batch: EdgeRequestsServed) -> None:
        self.attempts.append(batch.event_id)
        if len(self.attempts) <= self.failures:
            raise ConnectionRefusedError("kafka is down")
        self.batches.append(batch)

    def rows(self, project_id: str) -> int:
        """Requests published for the project (a row stands for ``count`` of them)."""
        return sum(r.count for b in self.batches if b.project_id == project_id
                   for r in b.requests)


@pytest.mark.asyncio
async def test_a_full_batch_is_published_without_waiting_for_the_interval():
    sink = Collector()
    recorder = RequestLog(sink, flush_seconds=60, batch_rows=500)
    recorder.start()
    for i in range(1200):
        recorder.record("batched", "d1", "site.localhost", f"/p{i}", 200, 100, 1.5)
    await eventually_async(lambda: recorder.published >= 1000)
    await recorder.stop()
    assert sink.rows("batched") == 1200 and recorder.dropped == 0
    assert max(len(b.requests) for b in sink.batches) == 500
    assert all(b.stream_id == "batched" for b in sink.batches)


@pytest.mark.asyncio
async def test_alike_requests_share_a_row_with_their_count_bytes_and_mean_duration():
    sink = Collector()
    recorder = RequestLog(sink, flush_seconds=3600)
    recorder.start()
    for i in range(1000):
        recorder.record("busy", "d1", "site.localhost", "/", 200, 2048, 1.0 + i % 2)
    recorder.record("busy", "d1", "site.localhost", "/", 304, 0, 0.5)
    recorder.record("busy", "d2", "site.localhost", "/", 200, 10, 0.5)
    await recorder.stop()
    rows = {(r.deployment_id, r.path, r.status): r for b in sink.batches
            for r in b.requests}
    assert len(rows) == 3 and recorder.published == 1002 and recorder.dropped == 0
    assert rows["d1", "/", 200].count == 1000
    assert rows["d1", "/", 200].bytes == 2048 * 1000
    assert rows["d1", "/", 200].duration_ms == 1.5
    assert rows["d1", "/", 304].count == rows["d2", "/", 200].count == 1


@pytest.mark.asyncio
async def test_rows_are_published_on_the_interval_and_on_stop():
    sink = Collector()
    recorder = RequestLog(sink, flush_seconds=0.05)
    recorder.start()
    recorder.record("ticking", "d1", "site.localhost", "/", 200, 10, 0.5)
    await eventually_async(lambda: sink.rows("ticking") == 1)
    recorder.record("ticking", "d1", "site.localhost", "/late", 404, 5, 0.5)
    await recorder.stop()  # published although the next interval never came
    assert sink.rows("ticking") == 2

    lazy = RequestLog(sink, flush_seconds=3600)
    lazy.start()
    lazy.record("on-stop", "d1", "site.localhost", "/", 200, 10, 0.5)
    await lazy.stop()
    assert sink.rows("on-stop") == 1


@pytest.mark.asyncio
async def test_a_dead_broker_neither_blocks_record_nor_grows_the_buffer():
    dead = Collector(failures=10**9)
    recorder = RequestLog(dead, flush_seconds=0.01, batch_rows=100, max_rows=1000)
    recorder.start()
    for i in range(5000):
        recorder.record("down", "d1", "site.localhost", f"/{i}", 200, 1, 0.1)
        assert recorder.buffered <= 1100  # the rows, and one batch being retried
    await eventually_async(lambda: len(dead.attempts) >= 2)  # retried, with backoff
    assert recorder.dropped >= 3900 and recorder.published == 0
    await recorder.stop()
    assert recorder.dropped == 5000 and recorder.buffered == 0


@pytest.mark.asyncio
async def test_a_retried_batch_keeps_its_id_and_lands_once_publishing_works():
    flaky = Collector(failures=2)
    recorder = RequestLog(flaky, flush_seconds=0.01)
    recorder.start()
    for _ in range(3):
        recorder.record("recovers", "d1", "site.localhost", "/", 200, 1, 0.1)
    await eventually_async(lambda: recorder.published == 3)
    await recorder.stop()
    assert len(set(flaky.attempts)) == 1 and len(flaky.attempts) == 3
    assert flaky.rows("recovers") == 3 and recorder.dropped == 0


def records(n: int, **fields: Any) -> list[RequestRecord]:
    base: dict[str, Any] = {"ts": datetime.now(UTC), "deployment_id": "d1",
                            "host": "site.localhost", "path": "/", "status": 200, "bytes": 1,
                            "duration_ms": 0.5}
    return [RequestRecord(**(base | fields)) for _ in range(n)]


async def _through_the_broker(bootstrap: str, project_id: str) -> list[EdgeRequestsServed]:
    settings = Settings(kafka_bootstrap=bootstrap, topic_requests=f"requests-{project_id}")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(settings.topic_requests, 2, 1)])
    await admin.close()
    events = EventLog(settings)
    await events.start()
    recorder = RequestLog(lambda b: events.append(settings.topic_requests, b.project_id, b))
    recorder.start()
    for i in range(7):
        recorder.record(project_id, "d1", "site.localhost", f"/{i}", 200, 10 + i, 0.5)
    await recorder.stop()
    await events.stop()
    consumer = AIOKafkaConsumer(settings.topic_requests, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    return [EdgeRequestsServed.model_validate_json(r.value)
            for rs in batches.values() for r in rs]


@pytest.mark.asyncio
async def test_batches_travel_the_broker_and_a_redelivered_one_is_stored_once(
        kafka_bootstrap: str, chdb, analytics: RequestAnalytics):
    project_id = f"wire-{uuid.uuid4().hex[:8]}"
    batches = await _through_the_broker(kafka_bootstrap, project_id)
    assert [len(b.requests) for b in batches] == [7]
    assert [b.stream_id for b in batches] == [project_id]

    assert await analytics.insert(batches) == 7
    assert await analytics.insert(batches) == 7  # redelivered after a crash
    assert count(chdb, project_id) == 7
    now = datetime.now(UTC)
    out = summary(chdb, project_id, now - timedelta(minutes=5), now + timedelta(seconds=1))
    assert out.requests == 7 and out.bytes == sum(10 + i for i in range(7))


@pytest.mark.asyncio
async def test_the_summary_counts_one_project_in_its_range(chdb, analytics: RequestAnalytics):
    now = datetime.now(UTC)
    counted = [RequestRecord(ts=now, deployment_id="d1",
                             host="a.localhost" if i % 3 else "b.localhost",
                             path=f"/page{i % 12}" if i < 24 else "/",
                             status=404 if i % 5 == 0 else 200, bytes=1000 + i,
                             duration_ms=2.0) for i in range(30)]
    await analytics.insert([
        EdgeRequestsServed(stream_id="counted", project_id="counted", requests=counted),
        EdgeRequestsServed(stream_id="other", project_id="other",
                     requests=records(1, host="other.localhost", status=500)),
    ])
    start, end = now - timedelta(minutes=1), datetime.now(UTC) + timedelta(seconds=1)
    out = summary(chdb, "counted", start, end)
    assert out.requests == 30 and out.bytes == sum(1000 + i for i in range(30))
    assert out.status_codes == {"200": 24, "404": 6}
    assert out.top_paths[0].path == "/" and out.top_paths[0].requests == 6
    assert len(out.top_paths) == 10 and all(p.requests == 2 for p in out.top_paths[1:])
    assert {h.host: h.requests for h in out.by_host} == {"a.localhost": 20, "b.localhost": 10}
    assert out.model_dump(by_alias=True)["from"] == start

    shared = [RequestRecord(ts=now, deployment_id="d1", host="a.localhost", path="/busy",
                            status=200, count=40, bytes=40 * 512, duration_ms=1.0)]
    await analytics.insert([EdgeRequestsServed(stream_id="counted",
                                               project_id="counted", requests=shared)])
    out = summary(chdb, "counted", start, datetime.now(UTC) + timedelta(seconds=1))
    assert out.requests == 70 and out.status_codes == {"200": 64, "404": 6}
    assert out.top_paths[0].path == "/busy" and out.top_paths[0].requests == 40
    assert out.top_paths[0].bytes == 40 * 512

    empty = summary(chdb, "counted", now - timedelta(days=2), now - timedelta(days=1))
    assert (empty.requests, empty.status_codes, empty.top_paths) == (0, {}, [])
    assert (await analytics.summary("other", start, end)).status_codes == {"500": 1}


def test_a_table_from_before_batch_ids_keeps_its_rows(chdb):
    chdb.command("CREATE DATABASE IF NOT EXISTS old_analytics")
    chdb.command("USE old_analytics")
    try:
        chdb.command("CREATE TABLE edge_requests (ts DateTime64(3, 'UTC'), project_id String, "
                     "deployment_id String, host LowCardinality(String), path String, "
                     "status UInt16, bytes UInt64, duration_ms Float32) ENGINE = MergeTree "
                     "PARTITION BY toDate(ts) ORDER BY (project_id, ts)")
        chdb.command("INSERT INTO edge_requests SELECT now64(3, 'UTC'), 'before', 'd1', "
                     "'site.localhost', '/', 200, 5, 1.0 FROM numbers(3)")
        migrate(chdb, 30)
        migrate(chdb, 30)  # once is enough
        engine = chdb.query("SELECT engine FROM system.tables WHERE database = "
                            "'old_analytics' AND name = 'edge_requests'").result_rows
        assert engine == [("ReplacingMergeTree",)] and count(chdb, "before") == 3
    finally:
        chdb.command("USE default")
        chdb.command("DROP DATABASE old_analytics")


def test_the_range_defaults_to_the_last_day_and_is_bounded():
    now = datetime(2025, 5, 1, 12, tzinfo=UTC)
    assert time_range(None, None, now) == (now - timedelta(hours=24), now)
    naive = datetime(2025, 5, 1, 10)
    assert time_range(naive, None, now)[0] == naive.replace(tzinfo=UTC)
    with pytest.raises(Invalid) as reversed_range:
        time_range(now, now - timedelta(seconds=1))
    assert reversed_range.value.field == "from"
    with pytest.raises(Invalid, match="92 days"):
        time_range(now - timedelta(days=93), now)
