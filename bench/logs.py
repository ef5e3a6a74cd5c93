"""Log benchmark, against its own ``buildspace up`` (free ports, temporary data):

1. latency from the build writing a line to an SSE client receiving it, with a build
   printing 2,000 lines/s for 30 s (targets: p50 <= 30 ms, p99 <= 150 ms);
2. sustained ingest of log lines into ClickHouse (target >= 50,000 lines/s), with
   the worker's consumer lag (lines not yet stored when the producer finished); the
   messages are serialized before the clock starts, so only sending them is timed;
3. the first page of the logs of a 1,000,000-line deployment (target <= 50 ms).

    .venv/bin/python bench/logs.py [--seconds 30] [--rate 2000] [--lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.envelope import dumps  # noqa: E402
from schemas.logs import BuildLogAppended, LogLine  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402
from tests.support.platform import Platform, running_platform  # noqa: E402
from tests.support.sse import events  # noqa: E402

TICKER = """
const rate = %d, total = %d; let n = 0;
const started = performance.timeOrigin + performance.now();
function tick() {
  const now = performance.timeOrigin + performance.now();
  const due = Math.min(total, Math.floor((now - started) * rate / 1000));
  while (n < due) { n++; console.log('t=' + (performance.timeOrigin + performance.now())); }
  if (n < total) setTimeout(tick, 1);
  else { require('fs').mkdirSync('dist', {recursive: true});
         require('fs').writeFileSync('dist/index.html', 'done'); }
}
tick();
"""


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def latency(platform: Platform, git: GitServer, rate: int, seconds: int) -> None:
    site = {"package.json": json.dumps({"name": "tick", "private": True,
                                        "scripts": {"build": "node tick.js"}}),
            "tick.js": TICKER % (rate, rate * seconds)}
    with platform.client() as api:
        project = api.post("/v1/projects", json={
            "name": "bench-ticker", "git_url": git.make_repo("ticker", site)}).json()
        deployment = api.post(f"/v1/projects/{project['id']}/deployments").json()
    delays: list[float] = []
    url = f"{platform.api}/v1/deployments/{deployment['id']}/logs/stream"
    with httpx.stream("GET", url, timeout=seconds + 300) as response:
        for event, _, data in events(response):
            if event == "line" and data["line"].startswith("t="):
                delays.append(time.time() * 1000 - float(data["line"][2:]))
            if event == "end":
                break
    p50, p99 = pct(delays, 0.5), pct(delays, 0.99)
    print(f"SSE latency over {len(delays)} lines at {rate}/s: p50 {p50:.1f} ms "
          f"(target <= 30: {verdict(p50 <= 30)}), p99 {p99:.1f} ms "
          f"(target <= 150: {verdict(p99 <= 150)}), max {max(delays):.1f} ms")


def log_messages(project_id: str, deployment_id: str, first: int, total: int,
                 batch: int = 500) -> list[bytes]:
    """The messages a builder would send for ``total`` lines, serialized up front so
    that making them is not part of the ingest being measured."""
    now = datetime.now(UTC)
    messages = []
    for start in range(first, first + total, batch):
        lines = [LogLine(seq=s, stream="stdout", ts=now,
                         line=f"line {s}: compiling module {s % 977} of the bundle")
                 for s in range(start, min(start + batch, first + total))]
        messages.append(dumps(BuildLogAppended(stream_id=deployment_id, project_id=project_id,
                                               deployment_id=deployment_id, lines=lines)))
    return messages


async def produce(bootstrap: str, deployment_id: str, messages: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    key = deployment_id.encode()
    started = time.perf_counter()
    try:
        for message in messages:
            await producer.send("buildspace.logs", message, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


def stored_up_to(api: httpx.Client, deployment_id: str, low: int, high: int) -> int:
    """The highest seq in [low, high] already stored (binary search over the log API);
    ``low - 1`` when none is."""
    found = low - 1
    while low <= high:
        mid = (low + high) // 2
        page = api.get(f"/v1/deployments/{deployment_id}/logs",
                       params={"after_seq": mid - 1, "limit": 1}).json()
        if page["lines"]:
            found, low = mid, mid + 1
        else:
            high = mid - 1
    return found


def ingest(platform: Platform, git: GitServer, total: int) -> str:
    with platform.client() as api:
        project = api.post("/v1/projects", json={
            "name": "bench-ingest",
            "git_url": git.make_repo("ingest", {"index.html": "x"})}).json()
        deployment = api.post(f"/v1/projects/{project['id']}/deployments").json()
        done = platform.wait_status(deployment["id"], {"READY"})
    first = (done["log_lines"] or 0) + 1
    messages = log_messages(project["id"], deployment["id"], first, total)
    started = time.perf_counter()
    produced_in = asyncio.run(produce(platform.kafka, deployment["id"], messages))
    last = first + total - 1
    with platform.client() as api:
        lag_lines = last - stored_up_to(api, deployment["id"], first, last)
        while True:
            page = api.get(f"/v1/deployments/{deployment['id']}/logs",
                           params={"after_seq": last - 1, "limit": 1}).json()
            if page["lines"]:
                break
            time.sleep(0.05)
    elapsed = time.perf_counter() - started
    rate = total / elapsed
    print(f"ingest: {total} lines produced in {produced_in:.1f} s, stored after "
          f"{elapsed:.1f} s: {rate:,.0f} lines/s (target >= 50,000: {verdict(rate >= 50000)}); "
          f"consumer lag when the producer finished: {lag_lines:,} lines "
          f"({elapsed - produced_in:.1f} s to catch up)")
    return deployment["id"]


def first_page(platform: Platform, deployment_id: str) -> None:
    timings = []
    with platform.client() as api:
        for _ in range(21):
            started = time.perf_counter()
            r = api.get(f"/v1/deployments/{deployment_id}/logs", params={"limit": 1000})
            timings.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200 and len(r.json()["lines"]) == 1000
    median = statistics.median(timings)
    print(f"first page (1,000 lines) of a 1,000,000+-line deployment: median {median:.1f} ms "
          f"(target <= 50: {verdict(median <= 50)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git, \
            running_platform(Path(tmp) / "platform") as platform:
        latency(platform, git, args.rate, args.seconds)
        deployment_id = ingest(platform, git, args.lines)
        first_page(platform, deployment_id)


if __name__ == "__main__":
    main()
