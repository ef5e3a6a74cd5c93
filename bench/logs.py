"""Log benchmark, against its own ``buildspace up`` (free ports, temporary data):

1. latency from the build writing a line to an SSE client receiving it, with a build
   printing 2,000 lines/s for 30 s (targets: p50 <= 20 ms, p99 <= 100 ms);
2. sustained ingest of 1,000,000 log lines into ClickHouse (target >= 100,000 lines/s):
   lines / time from the first line sent until the worker's consumer group ("buildspace")
   has committed up to the logs topic's end offsets AND the last line is queryable. The
   lag is read from the group's committed offsets. The messages are built the way a
   builder sends them (500 lines each, idempotent producer, acks=all) and serialized
   before the clock starts, so only sending them is timed;
3. the first page of the logs of that 1,000,000-line deployment (target <= 50 ms).

    .venv/bin/python bench/logs.py [--seconds 30] [--rate 2000] [--lines 1000000]

Prints figures next to their targets; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import RecordMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lag import GroupLag, Offsets, Sample  # noqa: E402
from schemas.envelope import dumps  # noqa: E402
from schemas.logs import BuildLogAppended, LogLine  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402
from tests.support.platform import Platform, running_platform  # noqa: E402
from tests.support.sse import events  # noqa: E402

LOGS_TOPIC = "buildspace.logs"
GROUP = "buildspace"  # the Faust app's id, so the worker's consumer group
BATCH = 500
Sent = dict[tuple[TopicPartition, int], tuple[int, float]]  # where -> (lines, acked at)
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
    with httpx.stream("GET", url, timeout=seconds + 300, headers=platform.auth()) as response:
        for event, _, data in events(response):
            if event == "line" and data["line"].startswith("t="):
                delays.append(time.time() * 1000 - float(data["line"][2:]))
            if event == "end":
                break
    p50, p99 = pct(delays, 0.5), pct(delays, 0.99)
    print(f"SSE latency over {len(delays):,} lines at {rate:,}/s:\n"
          f"  p50 {p50:7.1f} ms   target <= 20    {verdict(p50 <= 20)}\n"
          f"  p99 {p99:7.1f} ms   target <= 100   {verdict(p99 <= 100)}\n"
          f"  max {max(delays):7.1f} ms", flush=True)


def log_messages(project_id: str, deployment_id: str, first: int, total: int
                 ) -> list[tuple[bytes, int]]:
    """(message, line count) as a builder would send ``total`` lines, serialized up front
    so that making them is not part of the ingest being measured."""
    now = datetime.now(UTC)
    messages = []
    for start in range(first, first + total, BATCH):
        lines = [LogLine(seq=s, stream="stdout", ts=now,
                         line=f"line {s}: compiling module {s % 977} of the bundle")
                 for s in range(start, min(start + BATCH, first + total))]
        messages.append((dumps(BuildLogAppended(stream_id=deployment_id, project_id=project_id,
                                                deployment_id=deployment_id, lines=lines)),
                         len(lines)))
    return messages


@dataclass
class Ingest:
    produced_at: float
    committed_at: float
    stored_at: float
    samples: list[Sample]
    sent: Sent

    def lines_behind(self, sample: Sample) -> int:
        """Lines acknowledged by the broker by the sample's time and not yet committed by
        the group."""
        return sum(n for (tp, offset), (n, acked) in self.sent.items()
                   if acked <= sample.at and offset >= sample.committed[tp])

    def at(self, t: float) -> Sample:
        return next((s for s in self.samples if s.at >= t), self.samples[-1])


async def send_all(producer: AIOKafkaProducer, key: bytes, messages: list[tuple[bytes, int]],
                   clock: Callable[[], float]) -> Sent:
    """Send every message; where each landed, its line count and when it was acked."""
    sent: Sent = {}

    def on_ack(n: int) -> Callable[[asyncio.Future[RecordMetadata]], None]:
        def record(future: asyncio.Future[RecordMetadata]) -> None:
            meta = future.result()
            sent[TopicPartition(meta.topic, meta.partition), meta.offset] = (n, clock())
        return record

    for message, n in messages:
        (await producer.send(LOGS_TOPIC, message, key=key)).add_done_callback(on_ack(n))
    await producer.flush()
    return sent


async def stored(api: httpx.AsyncClient, deployment_id: str, seq: int) -> bool:
    page = await api.get(f"/v1/deployments/{deployment_id}/logs",
                         params={"after_seq": seq - 1, "limit": 1})
    return bool(page.json()["lines"])


async def follow(lag: GroupLag, api: httpx.AsyncClient, deployment_id: str, last: int,
                 clock: Callable[[], float], producing: asyncio.Task[Offsets],
                 timeout: float) -> tuple[list[Sample], float, float]:
    """Sample the group's lag until it has committed past what was produced and the last
    line is queryable; (samples, committed at, stored at)."""
    samples: list[Sample] = []
    committed_at = stored_at = None
    while committed_at is None or stored_at is None:
        sample = await lag.sample(clock())
        samples.append(sample)
        if producing.done():
            if committed_at is None and sample.caught_up_with(producing.result()):
                committed_at = sample.at
            if stored_at is None and await stored(api, deployment_id, last):
                stored_at = clock()
        if clock() > timeout:
            raise SystemExit(f"ingest: not caught up after {timeout:.0f} s (last sample: "
                             f"{sample.messages_behind} messages behind)")
        await asyncio.sleep(0.05)  # sampling interval
    return samples, committed_at, stored_at


async def run_ingest(platform: Platform, deployment_id: str, last: int,
                     messages: list[tuple[bytes, int]]) -> Ingest:
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka, acks="all", linger_ms=0,
                                enable_idempotence=True, max_request_size=4 * 1024 * 1024)
    await producer.start()
    sent: Sent = {}
    produced_at = 0.0
    try:
        async with GroupLag(platform.kafka, GROUP, LOGS_TOPIC) as lag, \
                httpx.AsyncClient(base_url=platform.api, timeout=30,
                                  headers=platform.auth()) as api:
            started = time.perf_counter()

            def clock() -> float:
                return time.perf_counter() - started

            async def produce() -> Offsets:
                nonlocal produced_at
                sent.update(await send_all(producer, deployment_id.encode(), messages, clock))
                produced_at = clock()
                return await lag.end()

            producing = asyncio.create_task(produce())
            samples, committed_at, stored_at = await follow(
                lag, api, deployment_id, last, clock, producing, timeout=600)
    finally:
        await producer.stop()
    return Ingest(produced_at, committed_at, stored_at, samples, sent)


def ingest(platform: Platform, git: GitServer, total: int) -> str:
    with platform.client() as api:
        project = api.post("/v1/projects", json={
            "name": "bench-ingest",
            "git_url": git.make_repo("ingest", {"index.html": "x"})}).json()
        deployment = api.post(f"/v1/projects/{project['id']}/deployments").json()
        done = platform.wait_status(deployment["id"], {"READY"})
    first = (done["log_lines"] or 0) + 1
    messages = log_messages(project["id"], deployment["id"], first, total)
    result = asyncio.run(run_ingest(platform, deployment["id"], first + total - 1, messages))
    report_ingest(result, total, len(messages))
    return str(deployment["id"])


def report_ingest(r: Ingest, total: int, count: int) -> None:
    elapsed = max(r.committed_at, r.stored_at)
    rate = total / elapsed
    at_end = r.at(r.produced_at)
    peak = max(r.samples, key=r.lines_behind)
    print(f"\ningest of {total:,} lines ({count:,} messages of <= {BATCH} lines):\n"
          f"  produced in                       {r.produced_at:7.2f} s "
          f"({total / r.produced_at:,.0f} lines/s offered)\n"
          f"  group committed to the end after  {r.committed_at:7.2f} s\n"
          f"  last line queryable after         {r.stored_at:7.2f} s\n"
          f"  sustained {rate:12,.0f} lines/s   target >= 100,000   {verdict(rate >= 100_000)}\n"
          f"  consumer lag when the producer finished: {r.lines_behind(at_end):,} lines "
          f"({at_end.messages_behind:,} messages); peak {r.lines_behind(peak):,} lines "
          f"at {peak.at:.2f} s ({len(r.samples)} samples of the group's committed offsets)",
          flush=True)


def first_page(platform: Platform, deployment_id: str, total: int) -> None:
    timings = []
    with platform.client() as api:
        for _ in range(21):
            started = time.perf_counter()
            r = api.get(f"/v1/deployments/{deployment_id}/logs", params={"limit": 1000})
            timings.append((time.perf_counter() - started) * 1000)
            if r.status_code != 200 or not r.json()["lines"]:
                raise SystemExit(f"first page: HTTP {r.status_code}: {r.text[:200]}")
    median = statistics.median(timings)
    print(f"\nfirst page (1,000 lines) of a {total:,}+-line deployment:\n"
          f"  median {median:6.1f} ms   target <= 50   {verdict(median <= 50)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="live-log build duration")
    parser.add_argument("--rate", type=int, default=2000, help="live-log lines per second")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines to ingest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git, \
            running_platform(Path(tmp) / "platform") as platform:
        latency(platform, git, args.rate, args.seconds)
        deployment_id = ingest(platform, git, args.lines)
        first_page(platform, deployment_id, args.lines)


if __name__ == "__main__":
    main()
