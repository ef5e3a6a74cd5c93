"""Handle a command: validate against settings, decide against current state, and
write the events to the outbox with the write-side state, in the caller's transaction
(``infra.outbox``: relayed to Kafka after the commit). Never writes a read model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from commands.deployments.decide import cancel_deployment, promote, request_deployment, rollback
from commands.domains.decide import add_domain, domain_of, remove_domain, verify_domain
from commands.projects import store
from commands.projects.decide import (
    ProjectState,
    create_project,
    evolve,
    require,
    set_env,
    update_project,
)
from infra import actors, outbox
from infra.dns import TxtResolver
from infra.kafka import Position
from infra.secrets import EnvCipher
from infra.settings import Settings
from schemas.commands import (
    AddDomain,
    CancelDeployment,
    Command,
    CreateProject,
    PromoteDeployment,
    RemoveDomain,
    RequestDeployment,
    RollbackProduction,
    SetProjectEnv,
    UpdateProject,
    VerifyDomain,
    subdomain_for,
)
from schemas.domains import is_under, txt_name, txt_value
from schemas.envelope import Envelope, Meta, new_id
from schemas.errors import Conflict, Invalid, NotFound
from schemas.events import DeploymentRequested
from schemas.git_urls import git_url_host
from schemas.uploads import UPLOAD_REF


@dataclass
class Outcome:
    state: ProjectState
    events: list[Envelope]
    staged: list[int] = field(default_factory=list)  # outbox ids, in order
    positions: list[Position] = field(default_factory=list)  # where they landed, once known


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in allowed)


class CommandService:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, cipher: EnvCipher,
                 dns: TxtResolver | None = None) -> None:
        self.pool = pool
        self.settings = settings
        self.cipher = cipher
        self.dns = dns or TxtResolver(settings)

    def check_create(self, cmd: CreateProject) -> None:
        if cmd.git_url is None:
            return
        host = git_url_host(cmd.git_url)
        if not host_allowed(host, self.settings.git_allowed_hosts):
            raise Invalid(f"git host {host!r} is not in the allow-list", field="git_url")

    async def create_project(self, conn: asyncpg.Connection, cmd: CreateProject,
                             meta: Meta, project_id: str, team_id: str | None = None
                             ) -> Outcome:
        """Run inside ``conn``'s transaction: claim the subdomain, decide, append."""
        self.check_create(cmd)
        subdomain = subdomain_for(cmd.name)
        if not await store.claim_subdomain(conn, subdomain, project_id):
            raise Conflict(f"a project named {subdomain!r} already exists", field="name")
        state = ProjectState(project_id=project_id)
        return await self._append(conn, state, create_project(state, cmd, meta, team_id))

    async def request_deployment(self, conn: asyncpg.Connection, cmd: RequestDeployment,
                                 meta: Meta) -> Outcome:
        state = await store.load_for_update(conn, cmd.project_id)
        events = request_deployment(state, cmd, meta, requested_by=actors.current())
        return await self._append(conn, state, events)

    async def _append(self, conn: asyncpg.Connection, state: ProjectState,
                      events: list[Envelope]) -> Outcome:
        outcome = Outcome(state, events)
        for event in events:
            outcome.state = evolve(outcome.state, event)
            outcome.staged.append(
                await outbox.stage(conn, self.settings.topic_events, event.stream_id, event))
        await store.save(conn, outcome.state)
        await store.record_deployments(conn, [(e.deployment_id, e.project_id) for e in events
                                              if isinstance(e, DeploymentRequested)])
        return outcome

    async def append_decided(self, conn: asyncpg.Connection, state: ProjectState,
                             events: list[Envelope]) -> Outcome:
        """Append events decided elsewhere (``commands.uploads.decide``) for ``state``,
        inside ``conn``'s transaction."""
        return await self._append(conn, state, events)

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

    async def promote(self, conn: asyncpg.Connection, cmd: PromoteDeployment, meta: Meta
                      ) -> Outcome:
        """Decided against the deployments read model (READY is reported by builders)."""
        state = await store.load_for_update(conn, cmd.project_id)
        status = await conn.fetchval(
            "SELECT status FROM deployments WHERE deployment_id = $1 AND project_id = $2",
            cmd.deployment_id, cmd.project_id)
        return await self._append(conn, state, promote(state, cmd.deployment_id, status, meta))

    async def rollback(self, conn: asyncpg.Connection, cmd: RollbackProduction, meta: Meta
                       ) -> Outcome:
        """Decided against the routes read model: the production history."""
        state = await store.load_for_update(conn, cmd.project_id)
        current = await conn.fetchval(
            "SELECT deployment_id FROM routes WHERE project_id = $1 AND production",
            cmd.project_id)
        # Production deployments that are still READY: by default only older ones than
        # the current (a second rollback goes further back); by name, any but the current.
        history = await conn.fetch(
            "SELECT DISTINCT d.deployment_id, d.number FROM route_production_history h "
            "JOIN deployments d USING (deployment_id) WHERE h.project_id = $1 "
            "AND d.status = 'READY' AND d.deployment_id IS DISTINCT FROM $2 "
            "ORDER BY d.number DESC", cmd.project_id, current)
        current_number = await conn.fetchval(
            "SELECT number FROM deployments WHERE deployment_id = $1", current)
        earlier = [r[0] for r in history if cmd.deployment_id is not None or
                   current_number is None or r[1] < current_number]
        return await self._append(conn, state, rollback(state, current, earlier,
                                                        cmd.deployment_id, meta))

    async def redeploy(self, conn: asyncpg.Connection, deployment_id: str, build_cache: bool,
                       meta: Meta) -> Outcome:
        """The same commit again, built afresh (unless ``build_cache``)."""
        row = await conn.fetchrow(
            "SELECT project_id, ref, commit_sha, branch, target FROM deployments "
            "WHERE deployment_id = $1", deployment_id)
        if row is None:
            raise NotFound(f"deployment {deployment_id} not found", field="deployment_id")
        if row["ref"] == UPLOAD_REF and not row["commit_sha"]:
            raise Conflict(f"deployment {deployment_id} was deployed from uploaded files: "
                           "deploy the directory again (buildspace deploy)",
                           field="deployment_id")
        cmd = RequestDeployment(project_id=row["project_id"],
                                ref=row["commit_sha"] or row["ref"], branch=row["branch"],
                                target=row["target"], build_cache=build_cache)
        return await self.request_deployment(conn, cmd, meta)

    async def add_domain(self, conn: asyncpg.Connection, cmd: AddDomain, meta: Meta
                         ) -> Outcome:
        """Claim the hostname for the project in ``conn``'s transaction, then append."""
        if is_under(cmd.hostname, self.settings.base_domain):
            raise Invalid(f"{cmd.hostname} is under the platform's own domain "
                          f"{self.settings.base_domain}", field="hostname")
        state = await store.load_for_update(conn, cmd.project_id)
        require(state, cmd.project_id)
        if await store.claim_domain(conn, cmd.hostname, cmd.project_id) is not None:
            raise Conflict(f"{cmd.hostname} is already a domain of another project",
                           field="hostname")
        verified = host_allowed(cmd.hostname, self.settings.verified_domains)
        return await self._append(conn, state, add_domain(state, cmd, new_id(), verified, meta))

    async def verify_domain(self, conn: asyncpg.Connection, cmd: VerifyDomain, meta: Meta
                            ) -> Outcome:
        """Verified when the TXT record holds the domain's token (or the operator's
        setting vouches for it); otherwise say which record to create, append nothing."""
        state = await store.load_for_update(conn, cmd.project_id)
        claim = domain_of(state, cmd.project_id, cmd.hostname)
        if host_allowed(cmd.hostname, self.settings.verified_domains):
            events = verify_domain(state, cmd.hostname, "setting", meta)
            return await self._append(conn, state, events)
        if not claim.verified:
            name, value = txt_name(cmd.hostname), txt_value(claim.token)
            answer = await self.dns.lookup(name)
            if value not in answer.values:
                found = answer.problem or f"found {answer.values!r}"
                raise Conflict(
                    f"{cmd.hostname} is not verified: create a TXT record {name} with the "
                    f"value {value}, then verify again ({found})", field="hostname",
                    verification={"type": "TXT", "name": name, "value": value})
        return await self._append(conn, state, verify_domain(state, cmd.hostname, "dns", meta))

    async def remove_domain(self, conn: asyncpg.Connection, cmd: RemoveDomain, meta: Meta
                            ) -> Outcome:
        """Detach the domain and release its claim, in ``conn``'s transaction."""
        state = await store.load_for_update(conn, cmd.project_id)
        outcome = await self._append(conn, state, remove_domain(state, cmd, meta))
        await store.release_domain(conn, cmd.hostname, cmd.project_id)
        return outcome

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
        if isinstance(cmd, AddDomain):
            return await self.add_domain(conn, cmd, meta)
        if isinstance(cmd, VerifyDomain):
            return await self.verify_domain(conn, cmd, meta)
        if isinstance(cmd, RemoveDomain):
            return await self.remove_domain(conn, cmd, meta)
        return await self.cancel_deployment(conn, cmd, meta)

    async def project_for_subdomain(self, subdomain: str) -> str | None:
        async with self.pool.acquire() as conn:
            return await store.project_for_subdomain(conn, subdomain)

    async def load(self, conn: asyncpg.Connection, project_id: str) -> ProjectState:
        return await store.load_for_update(conn, project_id)
