"""Prometheus metrics of every role, and the ``/healthz`` and ``/metrics`` they serve.

The metrics are defined here, once, named ``buildspace_…`` (with the role's name where
one role updates them); roles update them through the helpers below. Labels stay
bounded: status codes, route templates, topics and partitions, never a hostname or a raw
path. Log lines per second is ``rate(buildspace_log_lines_total[1m])``.

Several processes of one role (the edge runs N of them on one port) answer as one when
``PROMETHEUS_MULTIPROC_DIR`` is set before the process starts: each process writes its
samples to files there, and whichever process answers a scrape adds up all of them
(``MultiProcessCollector``). Without it, each process reports its own registry. The
edge counts each request into plain tallies, added to the metrics once a second and
before every scrape: a locked write to a shared file per request would slow it.
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.uvicorn_server import AsgiServer

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
           10.0)
EDGE_LATENCY = (0.0001, 0.00025, *LATENCY)  # a file from memory takes tens of µs

EDGE_REQUESTS = Counter("buildspace_edge_requests", "Requests the edge answered, by status.",
                        ["status"])
EDGE_SECONDS = Histogram("buildspace_edge_request_seconds",
                         "Time the edge took to produce a response.", buckets=EDGE_LATENCY)
EDGE_CACHE = Counter("buildspace_edge_cache",
                     "Lookups in the edge's memory caches: whole responses, and artifacts "
                     "(a miss reads the disk cache or object storage).", ["kind", "result"])
API_REQUESTS = Counter("buildspace_api_requests", "Requests the API answered.",
                       ["method", "route", "status"])
API_SECONDS = Histogram("buildspace_api_request_seconds",
                        "Time until the API sent the response headers (a live log stream "
                        "counts until it starts).", ["method", "route"], buckets=LATENCY)
BUILDS = Gauge("buildspace_builds", "Builds in the shared build queue, by state.", ["state"],
               multiprocess_mode="livemostrecent")  # every worker sees the same queue
LOG_LINES = Counter("buildspace_log_lines", "Build log lines the worker stored.")
CONSUMER_LAG = Gauge("buildspace_consumer_lag",
                     "Records of a partition the worker group has not committed yet.",
                     ["topic", "partition"], multiprocess_mode="livemostrecent")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TALLIES: list[Tally | HistogramTally] = []


class Tally:
    """Increments of a labelled counter kept in a dict, added to it by ``flush()``: for
    the edge's per-request counts, as in multiprocess mode each ``inc`` is a locked write
    to a memory-mapped file. Every exposition flushes this process's tallies first; the
    edge also flushes once a second, for a scrape a sibling process answers. Used from
    the event loop's thread only."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.counts: dict[tuple[object, ...], int] = {}
        _TALLIES.append(self)

    def add(self, *labels: object) -> None:
        self.counts[labels] = self.counts.get(labels, 0) + 1

    def flush(self) -> None:
        counts, self.counts = self.counts, {}
        for labels, count in list(counts.items()):
            self.counter.labels(*map(str, labels)).inc(count)


class HistogramTally:
    """Observations of an unlabelled histogram, bucketed here and added by ``flush()``,
    for the reason of ``Tally``. prometheus_client has no public way to add many
    observations at once, so ``flush`` adds to the histogram's own bucket and sum
    values (tests/unit/test_metrics.py checks the result against ``observe``)."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self.bounds: list[float] = list(histogram._upper_bounds)
        self.counts, self.sum = [0] * len(self.bounds), 0.0
        _TALLIES.append(self)

    def observe(self, amount: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, amount)] += 1  # the last bound is +Inf
        self.sum += amount

    def flush(self) -> None:
        counts, self.counts = self.counts, [0] * len(self.bounds)
        total, self.sum = self.sum, 0.0
        if any(counts):
            self.histogram._sum.inc(total)
            for bucket, count in zip(self.histogram._buckets, counts, strict=True):
                if count:
                    bucket.inc(count)


EDGE_REQUESTS_TALLY = Tally(EDGE_REQUESTS)
EDGE_SECONDS_TALLY = HistogramTally(EDGE_SECONDS)
EDGE_CACHE_TALLY = Tally(EDGE_CACHE)  # ("manifest" | "blob", "hit" | "miss")


def flush_tallies() -> None:
    for tally in _TALLIES:
        tally.flush()


def observe_edge_request(status: int, seconds: float) -> None:
    EDGE_REQUESTS_TALLY.add(status)
    EDGE_SECONDS_TALLY.observe(seconds)


def observe_api_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "OTHER"
    API_REQUESTS.labels(method, route, str(status)).inc()
    API_SECONDS.labels(method, route).observe(seconds)


def set_builds(queued: int, running: int) -> None:
    BUILDS.labels("queued").set(queued)
    BUILDS.labels("running").set(running)


def count_log_lines(lines: int) -> None:
    LOG_LINES.inc(lines)


def exposition(multiproc_dir: str | None = None) -> bytes:
    """The metrics text: of every process writing to ``multiproc_dir`` (default: the
    ``PROMETHEUS_MULTIPROC_DIR`` of the environment), else of this process."""
    flush_tallies()
    path = multiproc_dir or os.environ.get(MULTIPROC_ENV)
    if not path:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path)
    return generate_latest(registry)


class RequestMetrics:
    """ASGI middleware of the API: requests by method, route template and status, and
    the time until the response headers went out."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, answered = time.perf_counter(), False

        async def sending(message: dict[str, Any]) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                observe_api_request(scope["method"], _route(scope), message["status"],
                                    time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if not answered:
                observe_api_request(scope["method"], _route(scope), 500,
                                    time.perf_counter() - started)
            raise


def _route(scope: dict[str, Any]) -> str:
    """The matched route's template (the router sets it), never the raw path."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


# -- health ----------------------------------------------------------------------------

Health = dict[str, Any]
Check = Callable[[], Awaitable[Health]]


def health(ok: bool, **details: Any) -> Health:
    """A /healthz answer: ``status`` ok or unavailable, with what was checked."""
    return {"status": "ok" if ok else "unavailable", **details}


def health_status(answer: Health) -> int:
    return 200 if answer.get("status") == "ok" else 503


def service_check(service: Any, name: str) -> Check:
    """Healthy while a started ``mode.Service`` (the Faust app) is running."""
    async def check() -> Health:
        running = bool(service.started and not service.should_stop)
        return health(running, **{name: "running" if running else "stopped"})
    return check


# -- the endpoints of roles that serve no other HTTP (the worker) ------------------------

def metrics_app(check: Check) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        answer = await check()
        return JSONResponse(answer, status_code=health_status(answer))

    async def metrics(request: Request) -> Response:
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics)])


class MetricsServer:
    """``/healthz`` and ``/metrics`` on ``host:port``: ``await start()``, ``await stop()``."""

    def __init__(self, host: str, port: int, check: Check) -> None:
        self._server = AsgiServer(metrics_app(check), host, port)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()
