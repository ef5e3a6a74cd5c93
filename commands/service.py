"""Handle a command: validate against settings, decide against current state, append
the events to Kafka, then commit the write-side state. Never writes a read model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from commands import store
from commands.decide import ProjectState, create_project, evolve, request_deployment
from infra.kafka import EventLog, Position
from infra.settings import Settings
from schemas.commands import CreateProject, RequestDeployment, subdomain_for
from schemas.envelope import Envelope, Meta
from schemas.errors import Conflict, Invalid
from schemas.git_urls import git_url_host


@dataclass
class Outcome:
    state: ProjectState
    events: list[Envelope]
    positions: list[Position] = field(default_factory=list)


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


class CommandService:
    def __init__(self, pool: asyncpg.Pool, events: EventLog, settings: Settings) -> None:
        self.pool = pool
        self.events = events
        self.settings = settings

    def check_create(self, cmd: CreateProject) -> None:
        host = git_url_host(cmd.git_url)
        if not host_allowed(host, self.settings.git_allowed_hosts):
            raise Invalid(f"git host {host!r} is not in the allow-list", field="git_url")

    async def create_project(self, conn: asyncpg.Connection, cmd: CreateProject,
                             meta: Meta, project_id: str) -> Outcome:
        """Run inside ``conn``'s transaction: claim the subdomain, decide, append."""
        self.check_create(cmd)
        subdomain = subdomain_for(cmd.name)
        if not await store.claim_subdomain(conn, subdomain, project_id):
            raise Conflict(f"a project named {subdomain!r} already exists", field="name")
        state = ProjectState(project_id=project_id)
        return await self._append(conn, state, create_project(state, cmd, meta))

    async def request_deployment(self, conn: asyncpg.Connection, cmd: RequestDeployment,
                                 meta: Meta) -> Outcome:
        state = await store.load_for_update(conn, cmd.project_id)
        return await self._append(conn, state, request_deployment(state, cmd, meta))

    async def _append(self, conn: asyncpg.Connection, state: ProjectState,
                      events: list[Envelope]) -> Outcome:
        outcome = Outcome(state, events)
        for event in events:
            outcome.state = evolve(outcome.state, event)
            outcome.positions.append(
                await self.events.append(self.settings.topic_events, event.stream_id, event))
        await store.save(conn, outcome.state)
        return outcome

    async def project_for_subdomain(self, subdomain: str) -> str | None:
        async with self.pool.acquire() as conn:
            return await store.project_for_subdomain(conn, subdomain)

    async def load(self, conn: asyncpg.Connection, project_id: str) -> ProjectState:
        return await store.load_for_update(conn, project_id)
