"""Handle a command: validate against settings, decide against current state, append
the events to Kafka, then commit the write-side state. Never writes a read model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from commands import store
from commands.decide import (
    ProjectState,
    cancel_deployment,
    create_project,
    evolve,
    request_deployment,
    require,
    set_env,
    update_project,
)
from infra.kafka import EventLog, Position
from infra.secrets import EnvCipher
from infra.settings import Settings
from schemas.commands import (
    CancelDeployment,
    Command,
    CreateProject,
    RequestDeployment,
    SetProjectEnv,
    UpdateProject,
    subdomain_for,
)
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, Invalid, NotFound
from schemas.git_urls import git_url_host


@dataclass
class Outcome:
    state: ProjectState
    events: list[Envelope]
    positions: list[Position] = field(default_factory=list)


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


class CommandService:
    def __init__(self, pool: asyncpg.Pool, events: EventLog, settings: Settings,
                 cipher: EnvCipher) -> None:
        self.pool = pool
        self.events = events
        self.settings = settings
        self.cipher = cipher

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

    async def update_project(self, conn: asyncpg.Connection, cmd: UpdateProject,
                             meta: Meta) -> Outcome:
        state = await store.load_for_update(conn, cmd.project_id)
        return await self._append(conn, state, update_project(state, cmd, meta))

    async def set_env(self, conn: asyncpg.Connection, cmd: SetProjectEnv, meta: Meta
                      ) -> Outcome:
        state = await store.load_for_update(conn, cmd.project_id)
        require(state, cmd.project_id)
        ciphertext = self.cipher.encrypt(cmd.vars)
        return await self._append(conn, state, set_env(state, list(cmd.vars), ciphertext, meta))

    async def cancel_deployment(self, conn: asyncpg.Connection, cmd: CancelDeployment,
                                meta: Meta) -> Outcome:
        """Decided against the deployments read model: if a final event is already on
        its way, the first final event in the stream wins everywhere."""
        row = await conn.fetchrow(
            "SELECT project_id, status FROM deployments WHERE deployment_id = $1",
            cmd.deployment_id)
        if row is None:
            raise NotFound(f"deployment {cmd.deployment_id} not found", field="deployment_id")
        state = await store.load_for_update(conn, row["project_id"])
        events = cancel_deployment(row["project_id"], cmd.deployment_id, row["status"], meta)
        return await self._append(conn, state, events)

    async def execute(self, conn: asyncpg.Connection, cmd: Command, meta: Meta) -> Outcome:
        """Any command, inside ``conn``'s transaction (the Kafka intake's entry)."""
        if isinstance(cmd, CreateProject):
            return await self.create_project(conn, cmd, meta, new_id())
        if isinstance(cmd, RequestDeployment):
            return await self.request_deployment(conn, cmd, meta)
        if isinstance(cmd, UpdateProject):
            return await self.update_project(conn, cmd, meta)
        if isinstance(cmd, SetProjectEnv):
            return await self.set_env(conn, cmd, meta)
        return await self.cancel_deployment(conn, cmd, meta)

    async def project_for_subdomain(self, subdomain: str) -> str | None:
        async with self.pool.acquire() as conn:
            return await store.project_for_subdomain(conn, subdomain)

    async def load(self, conn: asyncpg.Connection, project_id: str) -> ProjectState:
        return await store.load_for_update(conn, project_id)
