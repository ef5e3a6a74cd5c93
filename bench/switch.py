"""Route switches for ``bench/edge.py``: the time from appending a route record that
names another deployment to the routes topic until the edge serves that deployment's
content, and how much of it the broker took to acknowledge the record."""

from __future__ import annotations

import asyncio
import http.client
import statistics
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from infra.settings import Settings
from tests.edge.support import LoopThread, publish, route

SWITCH_HOST = "switch.localhost"
HTML = "text/html; charset=utf-8"


def route_switches(settings: Settings, s3: Any, port: int, count: int
                   ) -> list[tuple[float, float]]:
    """(seconds until the broker acknowledged, seconds until the edge served) for each
    of ``count`` switches."""
    for i in range(count + 1):
        body = f"<p>deployment {i}</p>".encode()
        publish(s3, settings.artifacts_bucket, f"dep-switch-{i}", {"index.html": (body, HTML)})
    loop = LoopThread()
    try:
        producer = loop.run(routes_producer(settings))
        try:
            _switch(loop, producer, settings, port, 0)
            return [_switch(loop, producer, settings, port, i) for i in range(1, count + 1)]
        finally:
            loop.run(producer.stop())
    finally:
        loop.close()


async def routes_producer(settings: Settings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    return producer


def produce_route(settings: Settings, key: str, value: bytes) -> None:
    loop = LoopThread()
    try:
        producer = loop.run(routes_producer(settings))
        try:
            loop.run(producer.send_and_wait(settings.topic_routes, value, key=key.encode()))
        finally:
            loop.run(producer.stop())
    finally:
        loop.close()


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


def report(switches: list[tuple[float, float]]) -> str:
    served = [s * 1000 for _, s in switches]
    acked = [a * 1000 for a, _ in switches]
    return (f"route switch over {len(served)} switches (record produced -> new deployment "
            f"served): p50 {statistics.median(served):.1f} ms, p99 "
            f"{percentile(served, 99):.1f} ms, max {max(served):.1f} ms; of which the broker "
            f"took to acknowledge the record: p50 {statistics.median(acked):.1f} ms, p99 "
            f"{percentile(acked, 99):.1f} ms")
