"""Edge benchmark: requests/s and p99 latency of the edge against nginx serving the same
files from disk, with 1 process each and with 2 each, and how fast a route switch takes
effect; and the same on a cache miss.

    .venv/bin/python bench/edge.py [--duration 10] [--connections 64] [--processes 1,2]
                                   [--threads 0] [--switches 50] [--as-up]
                                   [--miss-files 10000]

Starts its own S3 server and Kafka broker, publishes a site (a 2 KB ``index.html`` and
a 100 KB hashed ``assets/app.3f2a1b9c.js``), and for each process count N runs N edge
processes sharing one port with SO_REUSEPORT (``python -m edge``; with ``--as-up``,
``python -m infra.compose.cli edge`` as ``buildspace up`` runs them, which also publishes request
analytics) and nginx with ``worker_processes N`` (a config in a temp dir, foreground,
``sendfile on``, ``access_log off``), both on free loopback ports, and loads each with wrk
(installed with apt-get together with nginx when missing), one after the other in the
same run. wrk runs N threads unless ``--threads`` says otherwise; on a 2-core machine
wrk shares the cores with the server it measures, for nginx as for the edge. The route
switch (1 edge process) is the time from appending a route record naming another
deployment to the routes topic until the edge serves that deployment's content.

The cache-miss run publishes ``--miss-files`` distinct 2 KB files per process count and
has wrk request each of them once (a Lua script hands each thread its own share), so
every request misses the edge's response, memory and disk caches and reads object
storage; nginx serves the same files from disk. If wrk sends the edge more requests than
there are files, it starts over and the excess are hits: the row says so.

Targets: edge >= 0.8x nginx's requests/s, edge p99 <= 10 ms. Prints figures, asserts
nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import WRK_REPORT, ensure_tools, get, nginx_process, wait_for, wrk  # noqa: E402
from bench.switch import produce_route, report, route_switches  # noqa: E402
from infra.connections import s3_client  # noqa: E402
from infra.embedded import free_port  # noqa: E402
from infra.kafka import ensure_topics  # noqa: E402
from infra.settings import Settings  # noqa: E402
from schemas.artifacts import (  # noqa: E402
    Manifest,
    ManifestEntry,
    SiteConfig,
    blob_key,
    manifest_key,
)
from schemas.envelope import dumps  # noqa: E402
from tests.edge.support import LoopThread, edge_environment, publish, route  # noqa: E402
from tests.support.services import broker, object_store  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "bench.localhost"
TYPES = {"index.html": "text/html; charset=utf-8",
         "assets/app.3f2a1b9c.js": "text/javascript; charset=utf-8",
         "m": "text/html; charset=utf-8"}
FILES = {"/": "index.html", "/assets/app.3f2a1b9c.js": "assets/app.3f2a1b9c.js"}
MISS_HOST = "miss.localhost"
MISS_PATH = "m/%06d.html"
# Each wrk thread requests its own share of the files, each once (ids from setup()).
MISS_SCRIPT = """
ids = 0
function setup(thread) thread:set("id", ids); ids = ids + 1 end
local n = 0
request = function()
  local i = {start} + (id + {threads} * n) % {count}
  n = n + 1
  return wrk.format("GET", string.format("/{path}", i))
end
"""
READY = (b"edge serving", b"is up.")  # logged by python -m edge; printed by buildspace edge


def site_files() -> dict[str, bytes]:
    """A 2 KB page and a 100 KB script, deterministic so runs are comparable."""
    para = b"<p>Buildspace serves this page from its edge; nginx from disk.</p>\n"
    html = b"<!doctype html><html><head><title>bench</title></head><body>\n"
    html += para * ((2048 - len(html) - 15) // len(para))
    html = html.ljust(2048 - 15, b"\n") + b"</body></html>\n"
    line = b"export const value%06d = 'the quick brown fox jumps over the lazy dog';\n"
    js = b"".join(line % i for i in range(100 * 1024 // len(line % 0) + 1))[: 100 * 1024]
    return {"index.html": html, "assets/app.3f2a1b9c.js": js}


def publish_site(s3: Any, settings: Settings, site: Path, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(body)
    publish(s3, settings.artifacts_bucket, "dep-bench",
            {name: (body, TYPES[name]) for name, body in files.items()})


@contextmanager
def edge_processes(settings: Settings, count: int, logs: Path, as_up: bool) -> Iterator[int]:
    """``count`` edge processes serving one free port; the port once each is serving."""
    port = free_port()
    env = edge_environment(settings, port) | {"BUILDSPACE_EDGE_ADMIN_PORT": str(free_port())}
    argv = [sys.executable, "-m", *(["infra.compose.cli", "edge"] if as_up else ["edge"])]
    with ExitStack() as stack:
        for i in range(count):
            log = logs / f"edge-{count}x-{i}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out)
            stack.callback(_stop, proc)
            wait_for(lambda p=proc, lg=log: _serving(p, lg), 60, f"edge process {i} ({log})")
        yield port


def _serving(proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(f"an edge process exited ({log}): {' | '.join(tail)}")
    text = log.read_bytes()
    return any(marker in text for marker in READY)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def throughput(count: int, edge: int, nginx: int, script: Path, args: argparse.Namespace
               ) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    """(processes, file, edge's wrk report, nginx's) for each file, each printed."""
    rows = []
    for path, name in FILES.items():
        for port in (edge, nginx):
            for _ in range(200):  # warm: caches filled, connections' first costs paid
                get(port, HOST, path)
        edge_r = wrk(f"http://127.0.0.1:{edge}{path}", HOST, script, args)
        nginx_r = wrk(f"http://127.0.0.1:{nginx}{path}", HOST, script, args)
        label = f"{name.rsplit('/', 1)[-1]} ({len(site_files()[name]) // 1024} KB)"
        for server, r in (("edge", edge_r), ("nginx", nginx_r)):
            print(f"{count:>5}  {label:28} {server:6} {r['rps']:9.0f} "
                  f"{r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:8.2f} "
                  f"{r['max_us'] / 1000:8.2f} {r['errors'] + r['non_2xx']:7}", flush=True)
        rows.append((count, label, edge_r, nginx_r))
    return rows


def summary(rows: list[tuple[int, str, dict[str, Any], dict[str, Any]]]) -> None:
    print(f"\n{'procs':>5}  {'file':28} {'edge/nginx':>10} {'>= 0.8x':>8} "
          f"{'edge p99':>9} {'<= 10 ms':>9} {'nginx p99':>10}")
    for count, label, edge_r, nginx_r in rows:
        ratio = edge_r["rps"] / nginx_r["rps"]
        p99 = edge_r["p99_us"] / 1000
        print(f"{count:>5}  {label:28} {ratio:9.2f}x {'met' if ratio >= 0.8 else 'MISSED':>8} "
              f"{p99:6.2f} ms {'met' if p99 <= 10 else 'MISSED':>9} "
              f"{nginx_r['p99_us'] / 1000:7.2f} ms")


def miss_files(count: int, total: int) -> dict[str, bytes]:
    """``count * total`` distinct 2 KB pages: a share of ``count`` per process count."""
    page = b"<!doctype html><title>miss %06d</title>" + b"<p>not cached yet</p>\n" * 88
    return {MISS_PATH % i: page % i for i in range(count * total)}


def publish_miss(s3: Any, settings: Settings, site: Path, files: dict[str, bytes]) -> None:
    """The cache-miss deployment: its files in the store (in parallel) and for nginx."""
    entries = {}

    def put(item: tuple[str, bytes]) -> None:
        name, body = item
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket=settings.artifacts_bucket, Key=blob_key(sha), Body=body)
        entries[name] = ManifestEntry(sha256=sha, size=len(body), content_type=TYPES["m"])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files.items()))
    manifest = Manifest(deployment_id="dep-miss", files=entries, site=SiteConfig())
    s3.put_object(Bucket=settings.artifacts_bucket, Key=manifest_key("dep-miss"),
                  Body=dumps(manifest))


def misses(count: int, edge: int, nginx: int, tmp: Path, args: argparse.Namespace
           ) -> tuple[int, str, dict[str, Any], dict[str, Any]]:
    """Every request a cache miss at the edge: each file of this count's share once."""
    share, start = args.miss_files, args.miss_files * args.counts.index(count)
    for port in (edge, nginx):  # the manifest is fetched once; its file is then skipped
        get(port, MISS_HOST, "/" + MISS_PATH % start)
    reports = []
    for server, port in (("edge", edge), ("nginx", nginx)):
        script = tmp / f"miss-{server}-{count}.lua"
        script.write_text(WRK_REPORT + MISS_SCRIPT.format(
            start=start + 1, threads=args.threads_now, count=share - 1, path=MISS_PATH))
        reports.append(wrk(f"http://127.0.0.1:{port}/", MISS_HOST, script, _wrk_args(args)))
    label = "miss: distinct 2 KB files"
    for server, r in zip(("edge", "nginx"), reports, strict=True):
        # nginx reads every file from disk (the page cache) anyway: only the edge's count
        wrapped = server == "edge" and r["requests"] >= share
        note = "  (wrapped, some hits: raise --miss-files)" if wrapped else ""
        print(f"{count:>5}  {label:28} {server:6} {r['rps']:9.0f} "
              f"{r['p50_us'] / 1000:8.2f} {r['p99_us'] / 1000:8.2f} "
              f"{r['max_us'] / 1000:8.2f} {r['errors'] + r['non_2xx']:7}{note}", flush=True)
    return count, label, reports[0], reports[1]


def prepare(settings: Settings, tmp: Path, args: argparse.Namespace) -> Any:
    s3 = s3_client(settings)
    publish_site(s3, settings, tmp / "site", site_files())
    if args.miss_files:
        publish_miss(s3, settings, tmp / "site", miss_files(args.miss_files, len(args.counts)))
    helper = LoopThread()
    try:
        helper.run(ensure_topics(settings))
    finally:
        helper.close()
    produce_route(settings, "bench", route("bench", "dep-bench"))
    if args.miss_files:
        produce_route(settings, "miss", route("miss", "dep-miss"))
    return s3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", default="1,2",
                        help="process counts to compare, edge and nginx alike")
    parser.add_argument("--threads", type=int, default=0,
                        help="wrk threads; 0: as many as server processes")
    parser.add_argument("--switches", type=int, default=50, help="route switches (0: none)")
    parser.add_argument("--miss-files", type=int, default=10000,
                        help="distinct files per process count for the cache-miss run "
                             "(0: no such run)")
    parser.add_argument("--as-up", action="store_true",
                        help="run the edge as buildspace up does "
                             "(python -m infra.compose.cli edge)")
    args = parser.parse_args()
    args.counts = [int(n) for n in args.processes.split(",")]
    return args


def main() -> None:
    args = parse_args()
    # A route produced just after its topic was created may meet NotLeaderForPartition,
    # which aiokafka retries; its warnings would only clutter the table.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    ensure_tools()
    rows, switches = [], []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "report.lua"
        script.write_text(WRK_REPORT)
        with object_store(tmp, "bench") as base, broker(base, tmp / "logs") as settings:
            settings = settings.model_copy(update={"data_dir": tmp / "edge-data"})
            s3 = prepare(settings, tmp, args)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"wrk: {args.connections} connections, {args.duration} s per run; edge as "
                  f"{'buildspace edge' if args.as_up else 'python -m edge'}; "
                  f"{os.cpu_count()} CPUs, load average {load}\n")
            print(f"{'procs':>5}  {'file':28} {'server':6} {'req/s':>9} {'p50 ms':>8} "
                  f"{'p99 ms':>8} {'max ms':>8} {'errors':>7}", flush=True)
            for count in args.counts:
                args.threads_now = args.threads or count
                with edge_processes(settings, count, tmp, args.as_up) as edge, \
                        nginx_process(tmp, tmp / "site", HOST, workers=count) as nginx:
                    rows += throughput(count, edge, nginx, script, _wrk_args(args))
                    if args.miss_files:
                        rows.append(misses(count, edge, nginx, tmp, args))
                    if count == 1 and args.switches:
                        switches = route_switches(settings, s3, edge, args.switches)
    summary(rows)
    if switches:
        print("\n" + report(switches))


def _wrk_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(threads=args.threads_now, connections=args.connections,
                              duration=args.duration)


if __name__ == "__main__":
    main()
