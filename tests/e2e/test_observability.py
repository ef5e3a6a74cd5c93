"""On a running ``buildspace up`` every role answers /healthz and serves Prometheus
metrics: the API on its port, the worker on ``worker_port``, and the edge processes on
``edge_admin_port``, where one scrape sums them all."""

from __future__ import annotations

import httpx

from tests.e2e.test_supervision import deployed_site, edges
from tests.support.metrics import sample, value
from tests.support.platform import Platform
from tests.support.waiting import eventually


def scrape(port: int, path: str = "/metrics") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)


def test_every_role_is_healthy(platform: Platform):
    for port in (platform.api_port, platform.worker_port, platform.edge_admin_port):
        r = scrape(port, "/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok", (port, r.text)


def test_edge_metrics_sum_every_edge_process(platform: Platform, git_server):
    site = deployed_site(platform, git_server, "Scraped", "<p>scraped</p>")
    assert len(edges(platform)) == 2

    def requests() -> float:
        return value(scrape(platform.edge_admin_port).text, "buildspace_edge_requests_total",
                     status="200")

    before = requests()
    for _ in range(20):  # new connections: both edge processes answer some, and a
        assert platform.get_site(site).status_code == 200  # scrape counts them all
    eventually(lambda: requests() >= before + 20, timeout=20)
    text = scrape(platform.edge_admin_port).text
    assert value(text, "buildspace_edge_cache_total", kind="manifest", result="hit") > 0
    assert value(text, "buildspace_edge_request_seconds_count") >= before + 20


def test_api_and_worker_metrics_follow_a_deployment(platform: Platform, git_server):
    deployed_site(platform, git_server, "Measured", "<p>measured</p>")
    api = scrape(platform.api_port).text
    assert value(api, "buildspace_api_requests_total", method="POST",
                 route="/v1/projects", status="201") >= 1
    assert value(api, "buildspace_api_request_seconds_count", method="GET",
                 route="/v1/deployments/{deployment_id}") >= 1

    def worker() -> str:
        return scrape(platform.worker_port).text

    # The build's lines were stored, and the worker's group caught up with them.
    eventually(lambda: value(worker(), "buildspace_log_lines_total") > 0, timeout=30)
    eventually(lambda: sample(worker(), "buildspace_consumer_lag",
                              topic="buildspace.logs") is not None, timeout=30)
    text = worker()
    assert sample(text, "buildspace_builds", state="queued") == 0
    assert sample(text, "buildspace_builds", state="running") == 0
