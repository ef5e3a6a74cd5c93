"""The agents: project the control plane, keep the routes, launch builds, project log
lines into ClickHouse, and take commands from other systems.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import faust
from pydantic import ValidationError

from commands.service import CommandService
from infra.kafka import EventLog, Position
from infra.settings import Settings
from projections import control_plane, routes
from projections.logs import LogStore
from projections.tracking import apply_once
from schemas.builds import BuildSpec
from schemas.envelope import Envelope
from schemas.errors import RunnerError
from schemas.events import DeploymentFailed, DeploymentRequested, parse_event
from schemas.logs import BuildLogAppended
from streams.app import Topics
from streams.dlq import dead_letter
from streams.intake import handle_command

log = logging.getLogger("buildspace.agents")


class Runner(Protocol):
    name: str

    async def launch(self, spec: BuildSpec) -> str: ...
    async def cancel(self, deployment_id: str) -> None: ...
    async def close(self) -> None: ...


@dataclass
class WorkerDeps:
    settings: Settings
    pool: asyncpg.Pool
    events: EventLog
    logs: LogStore
    runner: Runner
    commands: CommandService


def position_of(event: Any) -> Position:
    msg = event.message
    return Position(msg.topic, msg.partition, msg.offset)


async def parsed_events(stream: Any, deps: WorkerDeps, dead_letters: bool
                        ) -> AsyncIterator[tuple[Position, Envelope | None]]:
    """Each control event with its position; a malformed one is yielded as ``None`` so
    the projection still advances past it, and dead-lettered by one agent only."""
    async for event in stream.events():
        pos, value = position_of(event), event.value
        try:
            yield pos, parse_event(value)
        except (ValidationError, ValueError) as exc:
            if dead_letters:
                await dead_letter(deps.events, pos, event.key, value, f"malformed event: {exc}")
            yield pos, None


def projector(name: str, deps: WorkerDeps,
              apply: Callable[[asyncpg.Connection, Envelope], Awaitable[Any]],
              dead_letters: bool = False) -> Callable[[Any], Awaitable[None]]:
    async def agent(stream: Any) -> None:
        async for pos, event in parsed_events(stream, deps, dead_letters):
            await apply_once(deps.pool, name, pos, _handler(apply, event))
    agent.__name__ = agent.__qualname__ = f"project_{name}"
    return agent


def _handler(apply: Callable[[asyncpg.Connection, Envelope], Awaitable[Any]],
             event: Envelope | None) -> Callable[[asyncpg.Connection], Awaitable[Any]]:
    async def run(conn: asyncpg.Connection) -> Any:
        return None if event is None else await apply(conn, event)
    return run


def route_applier(deps: WorkerDeps) -> Callable[[asyncpg.Connection, Envelope], Awaitable[None]]:
    async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
        for route in await routes.apply(conn, event):
            await deps.events.append(deps.settings.topic_routes, route.hostname, route)
    return apply


def launcher(deps: WorkerDeps) -> Callable[[asyncpg.Connection, Envelope], Awaitable[None]]:
    """Start a build per DeploymentRequested; a runner that refuses fails the deployment."""
    async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
        if not isinstance(event, DeploymentRequested):
            return
        try:
            ref = await deps.runner.launch(event.spec)
        except RunnerError as exc:
            failed = DeploymentFailed(**event.caused(
                stream_id=event.project_id, project_id=event.project_id,
                deployment_id=event.deployment_id, reason=f"could not start the build: {exc}"))
            await deps.events.append(deps.settings.topic_events, event.project_id, failed)
            return
        log.info("launched build %s (%s)", event.deployment_id, ref)
    return apply


def log_projector(deps: WorkerDeps) -> Callable[[Any], Awaitable[None]]:
    async def project_logs(stream: Any) -> None:
        async for batch in stream.take(1000, within=0.02):
            parsed = []
            for value in batch:
                try:
                    parsed.append(BuildLogAppended.model_validate_json(value))
                except ValidationError as exc:
                    log.warning("malformed log message dropped to DLQ: %s", exc)
                    await deps.events.append_raw(
                        f"{deps.settings.topic_logs}.dlq", None, value or b"")
            await deps.logs.insert(parsed)
    project_logs.__qualname__ = project_logs.__name__
    return project_logs


def command_intake(deps: WorkerDeps) -> Callable[[Any], Awaitable[None]]:
    async def intake_commands(stream: Any) -> None:
        async for event in stream.events():
            await handle_command(deps.commands, deps.pool, deps.events, deps.settings,
                                 event.value)
    intake_commands.__qualname__ = intake_commands.__name__
    return intake_commands


def register_agents(app: faust.App, topics: Topics, deps: WorkerDeps) -> None:
    agents = [
        (topics.events_topic, projector(control_plane.NAME, deps, control_plane.apply, True)),
        (topics.events_topic, projector(routes.NAME, deps, route_applier(deps))),
        (topics.events_topic, projector("launcher", deps, launcher(deps))),
        (topics.logs_topic, log_projector(deps)),
        (topics.commands_topic, command_intake(deps)),
    ]
    for topic, fn in agents:
        app.agent(topic, name=fn.__name__)(fn)
