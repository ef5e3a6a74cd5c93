"""Running the edge role: embedded in an event loop, and standalone (``python -m edge``)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.server import serve_edge
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
from tests.support.waiting import eventually

SITE = {"index.html": (b"<p>served</p>", "text/html; charset=utf-8")}
ROOT = Path(__file__).resolve().parents[2]


def test_serve_edge_runs_until_cancelled(
    make_settings: Callable[[], Settings], s3: Any, loop: LoopThread
) -> None:
    port = free_port()
    settings = make_settings().model_copy(update={"edge_port": port})
    publish(s3, settings.artifacts_bucket, "dep-embedded", SITE)
    loop.run(create_routes_topic(settings))
    loop.run(produce(settings, [("embedded", route("embedded", "dep-embedded"))]))

    async def start() -> tuple[asyncio.Task[None], asyncio.Event]:
        ready = asyncio.Event()
        task = asyncio.create_task(serve_edge(settings, ready_event=ready))
        await asyncio.wait({task, asyncio.ensure_future(ready.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        return task, ready

    task, ready = loop.run(start())
    assert ready.is_set()
    url = f"http://127.0.0.1:{port}/"
    assert httpx.get(url, headers={"host": "embedded.localhost"}).text == "<p>served</p>"
    loop.loop.call_soon_threadsafe(task.cancel)
    eventually(task.done)
    assert task.cancelled()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_standalone_edge_serves_and_stops_on_sigterm(
    make_settings: Callable[[], Settings], s3: Any, loop: LoopThread
) -> None:
    port = free_port()
    settings = make_settings()
    publish(s3, settings.artifacts_bucket, "dep-standalone", SITE)
    loop.run(create_routes_topic(settings))
    loop.run(produce(settings, [("solo", route("solo", "dep-standalone"))]))
    log = settings.data_dir / "edge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge"], cwd=ROOT,
                                env=edge_environment(settings, port), stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}/"
        eventually(lambda: _get(url, "solo.localhost") == "<p>served</p>", timeout=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _get(url: str, host: str) -> str | None:
    try:
        return httpx.get(url, headers={"host": host}, timeout=2).text
    except httpx.TransportError:
        return None


