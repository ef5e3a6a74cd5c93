"""The agents: project the control plane, keep the routes, launch builds, project log
lines and the edge's request records into ClickHouse, take commands from other
systems, and project the dead letters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import asyncpg
import faust
from pydantic import ValidationError

from commands.service import CommandService
from infra import actors
from infra.kafka import EventLog, Position
from infra.metrics import count_log_lines
from infra.settings import Settings
from projections import audit, control_plane, hooks, outgoing, routes
from projections import dead_letters as letters
from projections.analytics import RequestAnalytics
from projections.logs import LogStore
from projections.tracking import apply_once
from schemas.analytics import EdgeRequestsServed
from schemas.audit import Actor
from schemas.builds import BuildSpec
from schemas.envelope import Envelope
from schemas.events import parse_event
from schemas.logs import BuildLogAppended, parse_log_message
from schemas.routes import Route
from streams.app import Topics
from streams.dlq import dead_letter
from streams.intake import handle_command
from streams.scheduler import NAME as scheduler_name
from streams.scheduler import Scheduler

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
    analytics: RequestAnalytics


def position_of(event: Any) -> Position:
    msg = event.message
    return Position(msg.topic, msg.partition, msg.offset)


Apply = Callable[[asyncpg.Connection, Envelope], Awaitable[Any]]
ApplyBy = Callable[[asyncpg.Connection, Envelope, Actor], Awaitable[Any]]


async def parsed_events(stream: Any, deps: WorkerDeps, dead_letters: bool
                        ) -> AsyncIterator[tuple[Position, Envelope | None, Actor]]:
    """Each control event with its position and the actor of its record's header; a
    malformed one is yielded as ``None`` so the projection still advances past it, and
    dead-lettered by one agent only."""
    async for event in stream.events():
        pos, value, by = position_of(event), event.value, actors.from_headers(event.headers)
        try:
            yield pos, parse_event(value), by
        except (ValidationError, ValueError) as exc:
            if dead_letters:
                await dead_letter(deps.events, pos, event.key, value, f"malformed event: {exc}")
            yield pos, None, by


def projector(name: str, deps: WorkerDeps, apply: Apply, dead_letters: bool = False
              ) -> Callable[[Any], Awaitable[None]]:
    return projector_by(name, deps, ignoring_actor(apply), dead_letters)


def projector_by(name: str, deps: WorkerDeps, apply: ApplyBy, dead_letters: bool = False
                 ) -> Callable[[Any], Awaitable[None]]:
    """A projection of events and who appended each."""
    async def agent(stream: Any) -> None:
        async for pos, event, by in parsed_events(stream, deps, dead_letters):
            await apply_once(deps.pool, name, pos, _handler(apply, event, by),
                             None if event is None else event.event_id)
    agent.__name__ = agent.__qualname__ = f"project_{name}"
    return agent


def ignoring_actor(apply: Apply) -> ApplyBy:
    async def apply_by(conn: asyncpg.Connection, event: Envelope, by: Actor) -> Any:
        return await apply(conn, event)
    return apply_by


def _handler(apply: ApplyBy, event: Envelope | None, by: Actor
             ) -> Callable[[asyncpg.Connection], Awaitable[Any]]:
    async def run(conn: asyncpg.Connection) -> Any:
        return None if event is None else await apply(conn, event, by)
    return run


def route_applier(deps: WorkerDeps) -> Callable[[asyncpg.Connection, Envelope], Awaitable[None]]:
    async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
        for change in await routes.apply(conn, event):
            route = change if isinstance(change, Route) else None  # None: a tombstone
            await deps.events.append(deps.settings.topic_routes, change.hostname, route)
    return apply


def schedule_builds(deps: WorkerDeps, scheduler: Scheduler) -> Callable[[Any], Awaitable[None]]:
    """Project events into the build queue, then act on it (launch, cancel)."""
    async def schedule_builds(stream: Any) -> None:
        async for pos, event, by in parsed_events(stream, deps, False):
            await apply_once(deps.pool, scheduler_name, pos,
                             _handler(ignoring_actor(scheduler.apply), event, by),
                             None if event is None else event.event_id)
            await scheduler.after_commit()
    schedule_builds.__qualname__ = schedule_builds.__name__
    return schedule_builds


def log_projector(deps: WorkerDeps, scheduler: Scheduler) -> Callable[[Any], Awaitable[None]]:
    async def project_logs(stream: Any) -> None:
        # Large inserts: ClickHouse takes 20k rows in about the time of 500; the live
        # view reads Kafka directly, so storing a little later costs nothing.
        async for events in stream.take_events(2000, within=0.2):
            parsed = []
            for event in events:
                try:
                    parsed.append(parse_log_message(event.value or b""))
                except (ValidationError, ValueError) as exc:
                    await dead_letter(deps.events, position_of(event), event.key, event.value,
                                      f"malformed log message: {exc}")
            count_log_lines(await deps.logs.insert(
                [m for m in parsed if isinstance(m, BuildLogAppended)]))
            await scheduler.seen({m.deployment_id for m in parsed})
    project_logs.__qualname__ = project_logs.__name__
    return project_logs


def request_projector(deps: WorkerDeps) -> Callable[[Any], Awaitable[None]]:
    async def project_requests(stream: Any) -> None:
        # A redelivered batch replaces itself: its rows are keyed by (batch id, index).
        async for events in stream.take_events(1000, within=0.5):
            served = []
            for event in events:
                try:
                    served.append(EdgeRequestsServed.model_validate_json(event.value or b""))
                except ValidationError as exc:
                    await dead_letter(deps.events, position_of(event), event.key, event.value,
                                      f"malformed request records: {exc}")
            await deps.analytics.insert(served)
    project_requests.__qualname__ = project_requests.__name__
    return project_requests


def dead_letter_projector(deps: WorkerDeps) -> Callable[[Any], Awaitable[None]]:
    """Every ``.dlq`` topic into ``dead_letters``; a record that is not a dead letter is
    kept as an unreadable one, never dead-lettered again."""
    async def project_dead_letters(stream: Any) -> None:
        async for event in stream.events():
            pos = position_of(event)
            letter = letters.read_letter(pos, event.key, event.value, event.message.timestamp)
            await apply_once(deps.pool, letters.NAME, pos, partial(letters.apply, letter=letter))
    project_dead_letters.__qualname__ = project_dead_letters.__name__
    return project_dead_letters


def command_intake(deps: WorkerDeps) -> Callable[[Any], Awaitable[None]]:
    async def intake_commands(stream: Any) -> None:
        async for event in stream.events():
            await handle_command(deps.commands, deps.pool, deps.settings, event.value)
    intake_commands.__qualname__ = intake_commands.__name__
    return intake_commands


def register_agents(app: faust.App, topics: Topics, deps: WorkerDeps) -> Scheduler:
    """Register the agents and timers; the scheduler is returned to be closed."""
    scheduler = Scheduler(deps, deps.commands.cipher)
    agents = [
        (topics.events_topic, projector_by(control_plane.NAME, deps, control_plane.apply,
                                           True)),
        (topics.events_topic, projector(routes.NAME, deps, route_applier(deps))),
        (topics.events_topic, projector(hooks.NAME, deps, hooks.apply)),
        (topics.events_topic, projector(outgoing.NAME, deps, outgoing.applier(deps.settings))),
        (topics.events_topic, schedule_builds(deps, scheduler)),
        (topics.events_topic, projector_by(audit.NAME, deps, audit.apply)),
        (topics.logs_topic, log_projector(deps, scheduler)),
        (topics.commands_topic, command_intake(deps)),
        (topics.requests_topic, request_projector(deps)),
        (topics.dead_letters_topic, dead_letter_projector(deps)),
    ]
    for topic, fn in agents:
        app.agent(topic, name=fn.__name__)(fn)

    async def tend_builds() -> None:
        """Fill free build slots, fail builds that stopped reporting, and stop this
        worker's builds that were canceled elsewhere."""
        await scheduler.listen()
        await scheduler.dispatch()
        await scheduler.watchdog()
        await scheduler.sweep()

    app.timer(interval=1.0, name="tend_builds")(tend_builds)
    app.timer(interval=60.0, name="reap_overdue_builds")(scheduler.reap_overdue)
    return scheduler
