"""The edge's /healthz and /metrics (``edge_admin_port``) against the real services: the
figures move with the requests served, health waits for the route table, and one scrape
reports every edge process sharing the ports."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.server import EdgeServer
from infra.embedded import free_port
from infra.settings import Settings
from tests.edge.support import (
    LoopThread,
    create_routes_topic,
    edge_environment,
    produce,
    publish,
    route,
)
from tests.support.metrics import value
from tests.support.waiting import eventually

SITE = {"index.html": (b"<p>measured</p>", "text/html; charset=utf-8")}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site(make_settings: Callable[[], Settings], s3: Any, loop: LoopThread) -> Settings:
    """Settings whose routes topic routes ``measured`` to a published deployment."""
    settings = make_settings()
    publish(s3, settings.artifacts_bucket, "dep-measured", SITE)
    loop.run(create_routes_topic(settings))
    loop.run(produce(settings, [("measured", route("measured", "dep-measured"))]))
    return settings


@pytest.fixture
def edge(site: Settings, s3: Any, loop: LoopThread) -> Iterator[EdgeServer]:
    server = EdgeServer(site)
    loop.run(server.start())
    try:
        yield server
    finally:
        loop.run(server.stop())


def test_requests_latency_and_cache_hits_show_in_the_metrics(edge: EdgeServer) -> None:
    admin = f"http://127.0.0.1:{edge.admin.port}"
    site = f"http://127.0.0.1:{edge.port}/"
    before = httpx.get(f"{admin}/metrics").text
    for _ in range(3):
        assert httpx.get(site, headers={"host": "measured.localhost"}).status_code == 200
    assert httpx.get(site, headers={"host": "nobody.localhost"}).status_code == 404
    answer = httpx.get(f"{admin}/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    after = answer.text

    def more(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert more("buildspace_edge_requests_total", status="200") == 3
    assert more("buildspace_edge_requests_total", status="404") == 1
    assert more("buildspace_edge_request_seconds_count") == 4
    assert more("buildspace_edge_request_seconds_bucket", le="+Inf") == 4
    # The first request reads the blob; the next two get the whole response from memory.
    assert more("buildspace_edge_cache_total", kind="response", result="miss") == 1
    assert more("buildspace_edge_cache_total", kind="response", result="hit") == 2
    assert more("buildspace_edge_cache_total", kind="blob", result="miss") == 1
    assert more("buildspace_edge_cache_total", kind="blob", result="hit") == 0
    assert "nobody" not in after and "measured" not in after  # no hostnames in labels


def test_healthy_once_the_route_table_is_loaded(
    make_settings: Callable[[], Settings], s3: Any, loop: LoopThread
) -> None:
    settings = make_settings()  # its routes topic does not exist yet
    server = EdgeServer(settings)
    starting = asyncio.run_coroutine_threadsafe(server.start(), loop.loop)
    try:
        eventually(lambda: server.admin.port, timeout=20)
        health = f"http://127.0.0.1:{server.admin.port}/healthz"
        loading = httpx.get(health)
        assert loading.status_code == 503
        assert loading.json() == {"status": "unavailable", "routes": "loading", "hosts": 0}
        loop.run(create_routes_topic(settings))
        loop.run(produce(settings, [("late", route("late", "dep-late"))]))
        starting.result(30)
        ready = httpx.get(health)
        assert (ready.status_code, ready.json()) == (
            200, {"status": "ok", "routes": "loaded", "hosts": 1})
    finally:
        starting.cancel()  # if the test failed before the edge started
        with contextlib.suppress(Exception):
            starting.result(30)
        loop.run(server.stop())


def test_one_scrape_reports_every_edge_process(site: Settings, tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    env = {**edge_environment(site, port), "BUILDSPACE_EDGE_ADMIN_PORT": str(admin),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-m", "edge"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    try:
        health = f"http://127.0.0.1:{admin}/healthz"
        eventually(lambda: _status(health) == 200, timeout=30)
        eventually(lambda: len(list(tmp_path.glob("histogram_*.db"))) == 2, timeout=30)
        for _ in range(20):  # a connection each: the kernel spreads them over the two
            with httpx.Client() as client:
                response = client.get(f"http://127.0.0.1:{port}/",
                                      headers={"host": "measured.localhost"})
                assert response.status_code == 200

        def counted() -> tuple[float, float]:  # whichever process answers, it adds all up
            text = httpx.get(f"http://127.0.0.1:{admin}/metrics").text
            return (value(text, "buildspace_edge_requests_total", status="200"),
                    value(text, "buildspace_edge_request_seconds_count"))

        # A process adds its counts to the shared files once a second.
        eventually(lambda: counted() == (20, 20))
        assert counted() == (20, 20)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None

