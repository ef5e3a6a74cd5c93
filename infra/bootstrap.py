"""Builds the object graph for each role, in one place.

``Roles`` opens the shared connections once and starts any of ``api``, ``worker`` and
``edge`` in the current event loop; ``buildspace up`` starts all three.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from builder.skip_prebuilt import SkipPrebuilt
from commands.service import CommandService
from edge.analytics import RequestLog
from infra.connections import s3_client
from infra.db import clickhouse_client, migrate, open_pool
from infra.deps import Platform
from infra.kafka import EventLog, ensure_topics
from infra.secrets import EnvCipher, env_key
from infra.settings import Settings
from infra.uvicorn_server import AsgiServer
from projections.analytics import RequestAnalytics
from projections.consistency import ReadYourWrites
from projections.live import LiveLogs
from projections.logs import LogStore

log = logging.getLogger("buildspace")


def make_runner(settings: Settings) -> Any:
    if settings.runner == "ecs":
        from builder.ecs_runner import EcsRunner

        return EcsRunner(settings)
    from builder.local_runner import LocalRunner

    return LocalRunner(settings)


class Roles:
    """Connections shared by the roles of one process, and the roles started in it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stops: list[Any] = []
        self.watched: list[asyncio.Task[Any]] = []
        self.pool: asyncpg.Pool | None = None
        self.events: EventLog | None = None
        self.logs: LogStore | None = None
        self.commands: CommandService | None = None

    async def open(self, *, clickhouse: bool = True) -> None:
        s = self.settings
        await ensure_topics(s)
        self.pool = await open_pool(s)
        self._stops.append(self.pool.close)
        await migrate(self.pool)
        self.events = EventLog(s)
        await self.events.start()
        self._stops.append(self.events.stop)
        self.commands = CommandService(self.pool, self.events, s, EnvCipher(env_key(s)))
        if clickhouse:
            client = await asyncio.to_thread(clickhouse_client, s)
            self.logs = LogStore(client, s.log_retention_days)
            self._stops.append(lambda: asyncio.to_thread(self.logs.close))  # type: ignore[union-attr]

    async def platform(self) -> Platform:
        assert self.pool and self.events and self.commands and self.logs, "open() first"
        live = LiveLogs(self.settings)
        await live.start()
        self._stops.append(live.stop)
        self.watched.append(live.task)
        return Platform(
            settings=self.settings, pool=self.pool, events=self.events, commands=self.commands,
            consistency=ReadYourWrites(self.pool, self.settings.query_wait_seconds),
            logs=self.logs, live=live, analytics=RequestAnalytics(
                self.logs.client, self.logs._lock, self.settings.request_retention_days),
        )

    async def start_api(self) -> None:
        from infra.api import create_api
        from projections.socketio_gateway import LogGateway

        platform = await self.platform()
        gateway = LogGateway(platform)
        gateway.start()
        self._stops.append(gateway.stop)
        s = self.settings
        for app, port in ((gateway.asgi(create_api(platform)), s.api_port),
                          (gateway.asgi(), s.socketio_port)):
            server = AsgiServer(app, s.api_host, port)
            await server.start()
            self._stops.append(server.stop)
            self.watched.append(server.task)

    async def start_worker(self) -> None:
        from streams.agents import WorkerDeps, register_agents
        from streams.app import declare_topics, faust_app
        from streams.artifact_gc import register_collector
        from streams.deliveries import register_deliveries

        assert self.pool and self.events and self.commands and self.logs, "open() first"
        runner = SkipPrebuilt(make_runner(self.settings))
        self._stops.append(runner.close)
        app = faust_app(self.settings)
        deps = WorkerDeps(self.settings, self.pool, self.events, self.logs, runner,
                          self.commands)
        scheduler = register_agents(app, declare_topics(app, self.settings), deps)
        self._stops.append(scheduler.close)
        self._stops.append(register_deliveries(
            app, self.settings, self.pool, self.commands.cipher).close)
        register_collector(app, self.settings, self.pool, s3_client(self.settings))
        await app.start()
        self._stops.append(app.stop)

    async def start_edge(self) -> None:
        from edge.server import EdgeServer

        edge = EdgeServer(self.settings, s3_client(self.settings))
        edge.app.requests = self.request_log()
        await edge.start()
        self._stops.append(edge.stop)
        watch = asyncio.create_task(edge.wait(), name="edge")
        self.watched.append(watch)
        self._stops.append(lambda: _cancel(watch))

    def request_log(self) -> RequestLog | None:
        """Where the edge records requests (analytics), if it can: in ``up`` through the
        one chdb client of the process; an edge on its own needs a ClickHouse server
        (an embedded chdb directory belongs to the API process)."""
        s = self.settings
        if self.logs is not None:
            log_store = self.logs
            requests = RequestLog.sharing(log_store.client, log_store._lock,
                                          retention_days=s.request_retention_days)
        elif (s.clickhouse_dsn or "chdb://").startswith("chdb://"):
            log.info("edge analytics off: the embedded ClickHouse belongs to the API process")
            return None
        else:
            requests = RequestLog(lambda: clickhouse_client(s),
                                  retention_days=s.request_retention_days)
        requests.start()
        self._stops.append(requests.stop)  # after the edge stopped: the last rows land
        return requests

    async def close(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                await stop()
            except Exception:  # keep closing the rest
                log.exception("closing %s failed", stop)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
