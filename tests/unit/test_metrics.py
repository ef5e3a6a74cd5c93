"""The metrics every role serves: what /metrics shows after requests, the health
answers, and several processes of a role adding up in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import mark_process_dead

from edge.admin import EdgeAdmin
from infra.compose.api import create_api
from infra.metrics import (
    LATENCY,
    HistogramTally,
    RequestMetrics,
    count_log_lines,
    exposition,
    metrics_app,
    observe_api_request,
    observe_edge_request,
    service_check,
    set_builds,
)
from infra.settings import Settings
from tests.support.metrics import value

ROOT = Path(__file__).resolve().parents[2]


async def get(app: Any, path: str, method: str = "GET") -> httpx.Response:
    """One request to an ASGI app (errors in the app answered as 500)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


def test_edge_requests_are_counted_by_status_and_timed() -> None:
    before = exposition()
    observe_edge_request(200, 0.002)
    observe_edge_request(200, 0.002)
    observe_edge_request(404, 0.3)
    after = exposition()
    for status, more in (("200", 2), ("404", 1)):
        assert value(after, "buildspace_edge_requests_total", status=status) \
            == value(before, "buildspace_edge_requests_total", status=status) + more
    seconds = "buildspace_edge_request_seconds"
    assert value(after, f"{seconds}_count") == value(before, f"{seconds}_count") + 3
    assert value(after, f"{seconds}_bucket", le="0.0025") \
        == value(before, f"{seconds}_bucket", le="0.0025") + 2


def test_a_tallied_histogram_equals_one_observed_directly() -> None:
    registry = CollectorRegistry()
    direct = Histogram("direct", "", buckets=LATENCY, registry=registry)
    tally = HistogramTally(Histogram("tallied", "", buckets=LATENCY, registry=registry))
    for amount in (0, 0.0005, 0.0007, 0.003, 0.003, 1.0, 9.9, 10.0, 11, 1e6):
        direct.observe(amount)
        tally.observe(amount)
    assert value(generate_latest(registry), "tallied_count") == 0  # until flushed
    tally.flush()
    tally.flush()  # nothing new: adds nothing

    def samples(name: str) -> dict[tuple[str, str], float]:
        return {(s.name.removeprefix(name), s.labels.get("le", "")): s.value
                for family in registry.collect() if family.name == name
                for s in family.samples if not s.name.endswith("_created")}

    assert len(samples("direct")) == len(LATENCY) + 1 + 2  # buckets, +Inf, count, sum
    assert samples("tallied") == samples("direct")
    assert samples("direct")[("_count", "")] == 10


def test_builds_and_log_lines() -> None:
    before = value(exposition(), "buildspace_log_lines_total")
    set_builds(queued=3, running=2)
    count_log_lines(250)
    text = exposition()
    assert value(text, "buildspace_builds", state="queued") == 3
    assert value(text, "buildspace_builds", state="running") == 2
    assert value(text, "buildspace_log_lines_total") == before + 250


@pytest.mark.asyncio
async def test_api_requests_are_labelled_by_route_template_not_path() -> None:
    app = FastAPI()
    app.add_middleware(RequestMetrics)

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    before = exposition()
    for n in range(3):
        assert (await get(app, f"/items/{n}")).status_code == 200
    assert (await get(app, "/no/such/path")).status_code == 404
    assert (await get(app, "/items/1", "POST")).status_code == 405
    assert (await get(app, "/broken")).status_code == 500
    after = exposition()

    def more(**labels: str) -> float:
        name = "buildspace_api_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert more(method="GET", route="/items/{item_id}", status="200") == 3
    assert more(method="GET", route="unmatched", status="404") == 1
    assert more(method="POST", route="/items/{item_id}", status="405") == 1
    assert more(method="GET", route="/broken", status="500") == 1
    assert "/items/1" not in after.decode()
    seconds = "buildspace_api_request_seconds_count"
    assert value(after, seconds, method="GET", route="/items/{item_id}") \
        - value(before, seconds, method="GET", route="/items/{item_id}") == 3


def test_unknown_methods_share_one_label() -> None:
    observe_api_request("BREW", "unmatched", 405, 0.001)
    text = exposition().decode()
    assert 'method="OTHER"' in text and "BREW" not in text


@pytest.mark.asyncio
async def test_api_health_follows_the_database_and_metrics_are_served() -> None:
    pool = SimpleNamespace(fetchval=None)
    api = create_api(SimpleNamespace(pool=pool))  # type: ignore[arg-type]
    pool.fetchval = _answers(1)
    ok = await get(api, "/healthz")
    assert (ok.status_code, ok.json()) == (200, {"status": "ok", "database": "reachable"})
    pool.fetchval = _refuses
    down = await get(api, "/healthz")
    assert down.status_code == 503
    assert down.json() == {"status": "unavailable", "database": "unreachable"}
    metrics = await get(api, "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert value(metrics.text, "buildspace_api_requests_total", method="GET",
                 route="/healthz", status="503") >= 1


def _answers(result: Any) -> Any:
    async def fetchval(sql: str) -> Any:
        return result
    return fetchval


async def _refuses(sql: str) -> Any:
    raise OSError("connection refused")


@pytest.mark.asyncio
async def test_worker_health_follows_the_faust_app() -> None:
    service = SimpleNamespace(started=True, should_stop=False)
    app = metrics_app(service_check(service, "faust"))
    assert (await get(app, "/healthz")).json() == {"status": "ok", "faust": "running"}
    service.should_stop = True
    stopped = await get(app, "/healthz")
    assert (stopped.status_code, stopped.json()["faust"]) == (503, "stopped")
    metrics = await get(app, "/metrics")
    assert metrics.status_code == 200
    assert "buildspace_consumer_lag" in metrics.text


@pytest.mark.asyncio
async def test_edge_admin_answers_health_and_metrics() -> None:
    ready = False
    admin = EdgeAdmin(Settings(), lambda: ready, lambda: 7)

    async def answer(path: str, method: str = "GET") -> Any:
        return await admin.respond({"method": method, "path": path})

    loading = await answer("/healthz")
    assert (loading.status, loading.body) == (503, b'{"status":"unavailable","routes":'
                                                   b'"loading","hosts":7}')
    ready = True
    assert (await answer("/healthz")).status == 200
    metrics = await answer("/metrics")
    assert metrics.status == 200 and b"buildspace_edge_requests_total" in metrics.body
    assert (await answer("/metrics", "POST")).status == 405
    assert (await answer("/")).status == 404


CHILD = """
import sys
from infra.metrics import EDGE_CACHE_TALLY, flush_tallies, observe_edge_request, set_builds
observe_edge_request(200, 0.001)
for _ in range(int(sys.argv[1])):
    EDGE_CACHE_TALLY.add("blob", "hit")
set_builds(queued=int(sys.argv[1]), running=1)
flush_tallies()  # as the edge does every second and when it stops
"""


def test_processes_of_a_role_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = []
    for hits in (3, 4):
        child = subprocess.run([sys.executable, "-c", CHILD, str(hits)], cwd=ROOT, env=env,
                               check=True, capture_output=True)
        assert child.returncode == 0
        pids += [int(p.name.split("_")[-1][:-3]) for p in tmp_path.glob("counter_*.db")]
    text = exposition(str(tmp_path))
    assert value(text, "buildspace_edge_requests_total", status="200") == 2
    assert value(text, "buildspace_edge_request_seconds_count") == 2
    assert value(text, "buildspace_edge_cache_total", kind="blob", result="hit") == 7
    assert value(text, "buildspace_builds", state="queued") == 4  # the most recent
    for pid in set(pids):
        mark_process_dead(pid, str(tmp_path))
    assert value(exposition(str(tmp_path)), "buildspace_builds", state="queued") == 0
    assert value(exposition(str(tmp_path)), "buildspace_edge_requests_total", status="200") == 2
