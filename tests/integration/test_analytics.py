"""Request analytics against real ClickHouse (chdb): the edge's recorder lands rows in
batches and never blocks on a dead ClickHouse; the query side sums one project's range."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import clickhouse_connect
import pytest

from edge.analytics import RequestLog
from projections.analytics import RequestAnalytics, summary, time_range
from schemas.errors import Invalid


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory):
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path_factory.mktemp('ch')}")
    yield client
    client.close()


def count(client, project_id: str) -> int:
    return client.query("SELECT count() FROM edge_requests WHERE project_id = {p:String}",
                        parameters={"p": project_id}).result_rows[0][0]


async def wait_for(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


class DeadClient:
    """A ClickHouse that refuses every insert."""

    def __init__(self) -> None:
        self.calls = 0

    def command(self, sql: str) -> None:
        self.calls += 1
        raise ConnectionRefusedError("clickhouse is down")

    def close(self) -> None:
        pass


def test_a_full_batch_lands_without_waiting_for_the_interval(chdb):
    async def scenario() -> None:
        recorder = RequestLog.sharing(chdb, threading.Lock(), flush_seconds=60,
                                      batch_rows=1000)
        recorder.start()
        for i in range(2500):
            recorder.record("batched", "d1", "site.localhost", f"/p{i % 7}", 200, 100, 1.5)
        await wait_for(lambda: recorder.inserted >= 2000)
        assert count(chdb, "batched") >= 2000
        await recorder.stop()
        assert count(chdb, "batched") == 2500 and recorder.dropped == 0

    asyncio.run(scenario())


def test_rows_are_flushed_on_the_interval_and_on_stop(chdb):
    async def scenario() -> None:
        recorder = RequestLog.sharing(chdb, threading.Lock(), flush_seconds=0.05)
        recorder.start()
        recorder.record("ticking", "d1", "site.localhost", "/", 200, 10, 0.5)
        await wait_for(lambda: count(chdb, "ticking") == 1)
        recorder.record("ticking", "d1", "site.localhost", "/late", 404, 5, 0.5)
        await recorder.stop()  # written although the next interval never came
        assert count(chdb, "ticking") == 2

        lazy = RequestLog.sharing(chdb, threading.Lock(), flush_seconds=3600)
        lazy.start()
        lazy.record("on-stop", "d1", "site.localhost", "/", 200, 10, 0.5)
        await lazy.stop()
        assert count(chdb, "on-stop") == 1

    asyncio.run(scenario())


def test_a_dead_clickhouse_neither_blocks_record_nor_grows_the_buffer():
    async def scenario() -> None:
        dead = DeadClient()
        recorder = RequestLog(lambda: dead, flush_seconds=0.01, batch_rows=100, max_rows=1000)
        recorder.start()
        began = time.perf_counter()
        for i in range(5000):
            recorder.record("down", "d1", "site.localhost", f"/{i}", 200, 1, 0.1)
        assert time.perf_counter() - began < 0.5  # an append each, no I/O
        assert recorder.buffered <= 1000
        await wait_for(lambda: dead.calls >= 2)  # retried, with backoff
        assert recorder.dropped >= 4000 and recorder.inserted == 0
        await recorder.stop()
        assert recorder.dropped == 5000 and recorder.buffered == 0

    asyncio.run(scenario())


def test_a_failing_connect_is_retried_and_buffered_rows_land_once_it_works(chdb):
    async def scenario() -> None:
        attempts = []

        def connect():
            attempts.append(1)
            if len(attempts) < 3:
                raise ConnectionRefusedError("not yet")
            return chdb

        recorder = RequestLog(connect, flush_seconds=0.01, owns_client=False)
        recorder.start()
        for _ in range(3):
            recorder.record("recovers", "d1", "site.localhost", "/", 200, 1, 0.1)
        await wait_for(lambda: recorder.inserted == 3)
        await recorder.stop()
        assert count(chdb, "recovers") == 3 and recorder.dropped == 0

    asyncio.run(scenario())


def test_the_summary_counts_one_project_in_its_range(chdb):
    now = datetime.now(UTC)
    recorder = RequestLog.sharing(chdb, threading.Lock())

    async def record() -> None:
        for i in range(30):
            recorder.record("counted", "d1", "a.localhost" if i % 3 else "b.localhost",
                            f"/page{i % 12}" if i < 24 else "/", 404 if i % 5 == 0 else 200,
                            1000 + i, 2.0)
        recorder.record("other", "d2", "other.localhost", "/", 500, 7, 1.0)
        assert await recorder.flush()

    asyncio.run(record())
    start, end = now - timedelta(minutes=1), datetime.now(UTC) + timedelta(seconds=1)
    out = summary(chdb, "counted", start, end)
    assert out.requests == 30 and out.bytes == sum(1000 + i for i in range(30))
    assert out.status_codes == {"200": 24, "404": 6}
    assert out.top_paths[0].path == "/" and out.top_paths[0].requests == 6
    assert len(out.top_paths) == 10 and all(p.requests == 2 for p in out.top_paths[1:])
    assert {h.host: h.requests for h in out.by_host} == {"a.localhost": 20, "b.localhost": 10}
    assert out.model_dump(by_alias=True)["from"] == start

    empty = summary(chdb, "counted", now - timedelta(days=2), now - timedelta(days=1))
    assert (empty.requests, empty.status_codes, empty.top_paths) == (0, {}, [])

    analytics = RequestAnalytics(chdb, threading.Lock(), 30)
    assert asyncio.run(analytics.summary("other", start, end)).status_codes == {"500": 1}


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
