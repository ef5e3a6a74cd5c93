"""Run the edge: follow the routes topic, then serve HTTP (``edge.http_server``).

Embeddable in a process that runs other roles (``EdgeServer`` or ``serve_edge`` in the
current event loop; no signal handlers are installed), or standalone::

    python -m edge        # what ``buildspace edge`` runs
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvloop

from edge.admin import EdgeAdmin
from edge.app import EdgeApp
from edge.follower import RouteFollower
from edge.http_server import HttpServer, bind_shared
from edge.routes import RouteTable
from edge.store import ArtifactStore
from infra.async_object_store import AsyncBucket
from infra.settings import Settings

log = logging.getLogger(__name__)


class EdgeServer:
    """The edge role: ``await start()`` returns once the full route table is loaded and
    HTTP is being served on ``port``; ``await stop()`` shuts both down. Artifacts are
    read through ``bucket`` (the process's, started by its owner); without one, the
    server opens its own and closes it when it stops."""

    def __init__(self, settings: Settings, bucket: AsyncBucket | None = None) -> None:
        self.settings = settings
        self.table = RouteTable(settings.base_domain)
        self.follower = RouteFollower(settings, self.table)
        self._own_bucket = bucket is None
        self.bucket = bucket or AsyncBucket(settings)
        self.store = ArtifactStore(settings, self.bucket)
        self.app = EdgeApp(self.table, self.store, settings)
        self.admin = EdgeAdmin(settings, self._routing, lambda: len(self.table))
        self.port: int | None = None
        self._http: HttpServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.admin.start()  # /healthz answers 503 until the route table is loaded
        try:
            if self._own_bucket:
                await self.bucket.start()
            await self.follower.start()
            await self.follower.wait_ready()
            await self._start_http()
        except BaseException:
            await self.stop()
            raise
        log.info("edge serving %d hosts on %s:%s", len(self.table), self.settings.edge_host,
                 self.port)

    async def wait(self) -> None:
        """Until the HTTP server or the route follower stops; raises what it died of."""
        assert self._task is not None and self.follower.task is not None, "start() first"
        tasks = {self._task, self.follower.task}
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop(grace=5)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.follower.stop()
        if self._own_bucket:
            await self.bucket.close()
        await self.admin.stop()

    def _routing(self) -> bool:
        task = self.follower.task
        return self.follower.ready.is_set() and task is not None and not task.done()

    async def _start_http(self) -> None:
        # Bound here so that port 0 picks a free port and a busy one raises OSError.
        sock = bind_shared(self.settings.edge_host, self.settings.edge_port)
        self.port = sock.getsockname()[1]
        self._http = HttpServer(self.app.respond, respond_now=self.app.respond_now)
        try:
            await self._http.start(sock)
        except BaseException:
            sock.close()
            raise
        self._task = asyncio.create_task(self._http.wait(), name="edge-http")


async def serve_edge(
    settings: Settings, bucket: AsyncBucket | None = None, *,
    ready_event: asyncio.Event | None = None
) -> None:
    """Run the edge until cancelled (or until it fails); set ``ready_event`` once serving."""
    server = EdgeServer(settings, bucket)
    await server.start()
    try:
        if ready_event is not None:
            ready_event.set()
        await server.wait()
    finally:
        await server.stop()


def run(settings: Settings | None = None) -> None:
    """Standalone entry: serve until SIGINT/SIGTERM."""
    settings = settings or Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_run_until_signal(settings))


async def _run_until_signal(settings: Settings) -> None:
    main = asyncio.ensure_future(serve_edge(settings))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await main
