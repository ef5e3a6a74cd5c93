"""Builds the object graph for each role, in one place.

``Roles.start(roles)`` opens what the roles need and starts any of ``api``, ``worker``
and ``edge`` in the current event loop. ``buildspace up`` runs each role process through
it (``infra.supervisor``): the API and the worker share a process when ClickHouse is
chdb (one process per data dir); the edge always runs in processes of its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Collection
from typing import Any

import asyncpg

from builder.prebuilt_runner import PublishPrebuilt
from commands.accounts.service import AccountService
from commands.service import CommandService
from edge.analytics import RequestLog
from infra.async_object_store import AsyncBucket
from infra.compose.migrate import migrate
from infra.compose.platform import Platform
from infra.consumer_lag import ConsumerLag
from infra.db import clickhouse_client, open_pool
from infra.kafka import EventLog, ensure_topics
from infra.metrics import MetricsServer, service_check
from infra.outbox import Relay
from infra.secrets import EnvCipher, env_key
from infra.settings import Settings
from infra.uvicorn_server import AsgiServer
from projections.analytics import RequestAnalytics
from projections.consistency import ReadYourWrites
from projections.live import LiveLogs
from projections.logs import LogStore
from schemas.analytics import EdgeRequestsServed
from streams.app import APP_ID

log = logging.getLogger("buildspace")
ORDER = ("api", "worker", "edge")  # the API answers while the worker joins its group


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
        self.analytics: RequestAnalytics | None = None
        self.commands: CommandService | None = None
        self.relay: Relay | None = None
        self.artifacts: AsyncBucket | None = None

    async def start(self, roles: Collection[str]) -> None:
        await ensure_topics(self.settings, groups=[APP_ID] if "worker" in roles else [])
        await self.open_events()
        if {"api", "worker"} & set(roles):
            await self.open()
        for role in ORDER:
            if role in roles:
                await getattr(self, f"start_{role}")()

    async def open_events(self) -> EventLog:
        if self.events is None:
            self.events = EventLog(self.settings)
            await self.events.start()
            self._stops.append(self.events.stop)
        return self.events

    async def open_artifacts(self) -> AsyncBucket:
        """The process's one object-store client, for every role in it."""
        if self.artifacts is None:
            self.artifacts = AsyncBucket(self.settings)
            await self.artifacts.start()
            self._stops.append(self.artifacts.close)
        return self.artifacts

    async def open(self) -> None:
        """PostgreSQL, the command side and ClickHouse: what the API and the worker use."""
        s = self.settings
        self.pool = await open_pool(s)
        self._stops.append(self.pool.close)
        await migrate(self.pool)
        events = await self.open_events()
        self.commands = CommandService(self.pool, s, EnvCipher(env_key(s)))
        self.relay = Relay(self.pool, events)
        await self.relay.start()
        self._stops.append(self.relay.stop)
        self.watched.append(self.relay.task)
        client = await asyncio.to_thread(clickhouse_client, s)
        self.logs = LogStore(client, s.log_retention_days)
        self._stops.append(lambda: asyncio.to_thread(self.logs.close))  # type: ignore[union-attr]
        self.analytics = RequestAnalytics(client, self.logs._lock, s.request_retention_days)

    async def platform(self) -> Platform:
        assert self.pool and self.events and self.commands and self.logs and self.analytics \
            and self.relay, "open() first"
        live = LiveLogs(self.settings)
        await live.start()
        self._stops.append(live.stop)
        self.watched.append(live.task)
        return Platform(
            settings=self.settings, pool=self.pool, events=self.events, commands=self.commands,
            accounts=AccountService(self.pool, self.settings),
            consistency=ReadYourWrites(self.pool, self.settings.query_wait_seconds),
            relay=self.relay, artifacts=await self.open_artifacts(),
            logs=self.logs, live=live, analytics=self.analytics,
        )

    async def start_api(self) -> None:
        from infra.compose.api import create_api
        from infra.compose.policy import may_read_logs
        from projections.socketio_gateway import LogGateway

        platform = await self.platform()
        password = await platform.accounts.create_owner()
        if password is not None:  # shown once, on the terminal only: never logged
            print(f"buildspace: the instance owner is {self.settings.admin_email}, with the "
                  f"password {password} (shown once; set BUILDSPACE_ADMIN_PASSWORD to choose "
                  "it)", file=sys.stderr, flush=True)
        gateway = LogGateway(platform, functools.partial(may_read_logs, platform))
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

        assert self.pool and self.events and self.commands and self.logs and self.analytics, \
            "open() first"
        events = self.events
        topic = self.settings.topic_events
        runner = PublishPrebuilt(make_runner(self.settings), await self.open_artifacts(),
                                 lambda event: events.append(topic, event.stream_id, event))
        self._stops.append(runner.close)
        app = faust_app(self.settings)
        deps = WorkerDeps(self.settings, self.pool, self.events, self.logs, runner,
                          self.commands, self.analytics)
        scheduler = register_agents(app, declare_topics(app, self.settings), deps)
        self._stops.append(scheduler.close)
        self._stops.append(register_deliveries(
            app, self.settings, self.pool, self.commands.cipher).close)
        register_collector(app, self.settings, self.pool, await self.open_artifacts())
        await app.start()
        self._stops.append(app.stop)
        # Faust stops itself when it crashes: the process ends and is restarted.
        self._watch(app.wait_until_stopped(), "worker")
        s = self.settings
        consumed = [s.topic_events, s.topic_logs, s.topic_commands, s.topic_requests]
        for part in (ConsumerLag(s, app.conf.id, consumed),
                     MetricsServer(s.worker_host, s.worker_port, service_check(app, "faust"))):
            await part.start()
            self._stops.append(part.stop)

    async def start_edge(self) -> None:
        from edge.server import EdgeServer

        edge = EdgeServer(self.settings, await self.open_artifacts())
        edge.app.requests = await self.request_log()
        await edge.start()
        self._stops.append(edge.stop)
        self._watch(edge.wait(), "edge")

    async def request_log(self) -> RequestLog:
        """The edge's request analytics, published to the requests topic (the worker
        projects them into ClickHouse)."""
        events, topic = await self.open_events(), self.settings.topic_requests

        async def publish(batch: EdgeRequestsServed) -> None:
            await events.append(topic, batch.project_id, batch)

        requests = RequestLog(publish)
        requests.start()
        self._stops.append(requests.stop)  # after the edge stopped: the last rows go out
        return requests

    def _watch(self, awaitable: Any, name: str) -> None:
        watch = asyncio.ensure_future(awaitable)
        watch.set_name(name)
        self.watched.append(watch)
        self._stops.append(lambda: _cancel(watch))

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
