"""Socket.IO for the seed log clients, on a platform of its own (a fresh live view)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import orjson
import pytest
import socketio

from tests.e2e.test_deploy import create
from tests.e2e.test_logs import ticker_site
from tests.support.platform import Platform, running_platform
from tests.support.waiting import eventually_async


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("socketio")) as running:
        yield running


@pytest.mark.asyncio
async def test_socketio_subscribers_get_each_new_line_of_their_project(own_platform, git_server):
    project = create(own_platform, "sio-logs", git_server.make_repo("sio-logs", ticker_site()))

    received: list[str] = []
    client = socketio.AsyncClient()
    client.on("message", lambda data: received.append(orjson.loads(data)["log"]))
    await client.connect(f"http://127.0.0.1:{own_platform.socketio_port}",
                         transports=["websocket"], auth={"token": own_platform.token()})
    await client.call("subscribe", f"logs:{project['subdomain']}")  # acked: joined
    async with httpx.AsyncClient(base_url=own_platform.api,
                                 headers=own_platform.auth()) as api:
        accepted = (await api.post(f"/v1/projects/{project['id']}/deployments")).json()

        async def every_line_received() -> bool:
            status = (await api.get(f"/v1/deployments/{accepted['id']}")).json()
            return status["status"] in ("READY", "FAILED") and \
                len(received) >= status["log_lines"]
        with contextlib.suppress(AssertionError):  # the lines are asserted below
            await eventually_async(every_line_received, 90, interval=0.1,
                                   what="the build done and each of its lines received")
    await client.disconnect()
    ticks = [line for line in received if line.startswith("tick ")]
    assert ticks == [f"tick {i}" for i in range(1, 301)]
