"""Edge benchmark: requests/s and p99 latency of the edge against nginx serving the same
files from disk, and how fast a route switch takes effect.

    .venv/bin/python bench/edge.py [--duration 10] [--connections 64] [--switches 50]

Starts its own S3 server and Kafka broker, publishes a site (a 2 KB ``index.html`` and
a 100 KB hashed ``assets/app.3f2a1b9c.js``), runs the edge standalone (``python -m
edge``) and nginx (a config in a temp dir, foreground, ``worker_processes auto``,
``sendfile on``, ``access_log off``) on free loopback ports, and loads each with wrk
(installed with apt-get together with nginx when missing). The route switch is the time
from appending a route record naming another deployment to the routes topic until the
edge serves that deployment's content. Targets: edge >= 0.5x nginx requests/s, p99 <=
20 ms. Prints figures, asserts nothing.

wrk runs one thread by default: on a 2-core machine a second wrk thread takes the core
the (single-process) edge runs on and measures the contention; ``--threads 2`` shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.load import WRK_REPORT, ensure_tools, get, nginx_process, wait_for, wrk  # noqa: E402
from infra.connections import s3_client  # noqa: E402
from infra.embedded import free_port  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.edge.support import (  # noqa: E402
    LoopThread,
    create_routes_topic,
    edge_environment,
    publish,
    route,
)
from tests.support.services import broker, object_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "bench.localhost"
SWITCH_HOST = "switch.localhost"
HTML = "text/html; charset=utf-8"
JS = "text/javascript; charset=utf-8"
FILES = {"/": "index.html", "/assets/app.3f2a1b9c.js": "assets/app.3f2a1b9c.js"}


def site_files() -> dict[str, bytes]:
    """A 2 KB page and a 100 KB script, deterministic so runs are comparable."""
    para = b"<p>Buildspace serves this page from its edge; nginx from disk.</p>\n"
    html = b"<!doctype html><html><head><title>bench</title></head><body>\n"
    html += para * ((2048 - len(html) - 15) // len(para))
    html = html.ljust(2048 - 15, b"\n") + b"</body></html>\n"
    line = b"export const value%06d = 'the quick brown fox jumps over the lazy dog';\n"
    js = b"".join(line % i for i in range(100 * 1024 // len(line % 0) + 1))[: 100 * 1024]
    return {"index.html": html, "assets/app.3f2a1b9c.js": js}


@contextmanager
def edge_process(settings: Settings, port: int, log: Path) -> Iterator[int]:
    env = edge_environment(settings, port)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge"], cwd=ROOT, env=env,
                                stdout=out, stderr=out)
    try:
        wait_for(lambda: get(port, HOST)[0] == 200, 60, f"the edge (log: {log})")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def publish_site(s3: Any, settings: Settings, site: Path, files: dict[str, bytes]) -> None:
    types = {"index.html": HTML, "assets/app.3f2a1b9c.js": JS}
    for name, body in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(body)
    publish(s3, settings.artifacts_bucket, "dep-bench",
            {name: (body, types[name]) for name, body in files.items()})


def throughput(edge: int, nginx: int, script: Path, args: argparse.Namespace) -> list[str]:
    lines = []
    for path, name in FILES.items():
        size = len((Path(args.site) / name).read_bytes())
        results = {}
        for server, port in (("edge", edge), ("nginx", nginx)):
            r = wrk(f"http://127.0.0.1:{port}{path}", HOST, script, args)
            results[server] = r
            print(f"{name} ({size // 1024} KB) {server:5}: {r['rps']:9.0f} req/s  "
                  f"p50 {r['p50_us'] / 1000:6.2f} ms  p99 {r['p99_us'] / 1000:6.2f} ms  "
                  f"max {r['max_us'] / 1000:7.2f} ms  errors {r['errors']}  "
                  f"non-2xx {r['non_2xx']}", flush=True)
        ratio = results["edge"]["rps"] / results["nginx"]["rps"]
        p99 = results["edge"]["p99_us"] / 1000
        lines.append(f"{name}: edge/nginx = {ratio:.2f}x (target >= 0.5: "
                     f"{'met' if ratio >= 0.5 else 'MISSED'}); edge p99 {p99:.2f} ms "
                     f"(target <= 20 ms: {'met' if p99 <= 20 else 'MISSED'})")
    return lines


def route_switches(settings: Settings, s3: Any, port: int, count: int
                   ) -> list[tuple[float, float]]:
    """Seconds from producing each route record until the broker acknowledged it, and
    until the edge served its deployment."""
    for i in range(count + 1):
        body = f"<p>deployment {i}</p>".encode()
        publish(s3, settings.artifacts_bucket, f"dep-switch-{i}", {"index.html": (body, HTML)})
    loop = LoopThread()
    try:
        producer = loop.run(_producer(settings))
        try:
            _switch(loop, producer, settings, port, 0)
            return [_switch(loop, producer, settings, port, i) for i in range(1, count + 1)]
        finally:
            loop.run(producer.stop())
    finally:
        loop.close()


async def _producer(settings: Settings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    return producer


def _switch(loop: LoopThread, producer: AIOKafkaProducer, settings: Settings, port: int,
            i: int) -> tuple[float, float]:
    expected = f"<p>deployment {i}</p>".encode()
    record = route("switch", f"dep-switch-{i}", i + 1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    start = time.perf_counter()
    sent = asyncio.run_coroutine_threadsafe(
        producer.send_and_wait(settings.topic_routes, record, key=b"switch"), loop.loop)
    acked: list[float] = []
    sent.add_done_callback(lambda _: acked.append(time.perf_counter() - start))
    try:
        while True:
            conn.request("GET", "/", headers={"Host": SWITCH_HOST})
            response = conn.getresponse()
            if response.read() == expected:
                elapsed = time.perf_counter() - start
                break
            if time.perf_counter() - start > 30:
                raise SystemExit(f"route switch {i} not served within 30 s")
            time.sleep(0.0005)  # poll interval: keeps the poller off the edge's core
    finally:
        conn.close()
    sent.result(10)
    return acked[0], elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--switches", type=int, default=50)
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp_name:
        tmp = Path(tmp_name)
        args.site = str(tmp / "site")
        script = tmp / "report.lua"
        script.write_text(WRK_REPORT)
        with object_store(tmp, "bench") as base, broker(base, tmp / "logs") as settings:
            settings = settings.model_copy(update={"data_dir": tmp / "edge-data"})
            s3 = s3_client(settings)
            publish_site(s3, settings, tmp / "site", site_files())
            helper = LoopThread()
            try:
                helper.run(create_routes_topic(settings))
            finally:
                helper.close()
            _produce_one(settings, "bench", route("bench", "dep-bench"))
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"wrk: {args.threads} threads, {args.connections} connections, "
                  f"{args.duration} s each; {os.cpu_count()} CPUs, load average {load}\n",
                  flush=True)
            with edge_process(settings, free_port(), tmp / "edge.log") as edge, \
                    nginx_process(tmp, tmp / "site", HOST) as nginx:
                _warm(edge)
                summary = throughput(edge, nginx, script, args)
                switches = route_switches(settings, s3, edge, args.switches)
    print()
    for line in summary:
        print(line)
    served = [s for _, s in switches]
    acked = [a for a, _ in switches]
    print(f"route switch over {len(served)} switches (record produced -> new deployment "
          f"served): p50 {statistics.median(served) * 1000:.1f} ms, p99 "
          f"{percentile(served, 99) * 1000:.1f} ms, max {max(served) * 1000:.1f} ms; of "
          f"which the broker took to acknowledge the record: p50 "
          f"{statistics.median(acked) * 1000:.1f} ms, p99 {percentile(acked, 99) * 1000:.1f} ms")


def _produce_one(settings: Settings, key: str, value: bytes) -> None:
    loop = LoopThread()
    try:
        producer = loop.run(_producer(settings))
        try:
            loop.run(producer.send_and_wait(settings.topic_routes, value, key=key.encode()))
        finally:
            loop.run(producer.stop())
    finally:
        loop.close()


def _warm(port: int) -> None:
    for path in FILES:
        get(port, HOST, path)


if __name__ == "__main__":
    main()
