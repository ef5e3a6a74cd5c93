"""Build scheduling: a FIFO queue with at most ``max_concurrent_builds`` running, newer
requests for the same project and ref superseding queued ones, and a watchdog that
fails a build whose runner stopped reporting.

The queue (``build_queue``) is a projection of the control-plane events kept in
PostgreSQL, so every worker shares one queue and one limit; dispatching takes an
advisory lock.

A build runs in the worker that launched it, which need not be the one that projects
its cancellation: a stop is broadcast with ``NOTIFY buildspace_stop_build`` to every
worker (``listen``), and each worker also sweeps its own running builds every second
(``sweep``) for any whose deployment was canceled, in case a notification was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from infra.metrics import set_builds
from infra.secrets import EnvCipher
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, Meta
from schemas.errors import RunnerError
from schemas.events import (
    FINAL_EVENTS,
    BuildPlanned,
    BuildStarted,
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentRequested,
    ProjectEnvSet,
)
from schemas.failures import failure_step

log = logging.getLogger("buildspace.scheduler")

NAME = "scheduler"
DISPATCH_LOCK = 7262022
STOP_CHANNEL = "buildspace_stop_build"


class Scheduler:
    def __init__(self, deps: Any, cipher: EnvCipher) -> None:
        self.deps = deps
        self.cipher = cipher
        self.settings = deps.settings
        self._cancel_after_commit: list[str] = []
        self._listener: asyncpg.Connection | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    # -- projection: events -> build_queue ---------------------------------------------

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        if isinstance(event, DeploymentRequested):
            await self._enqueue(conn, event)
        elif isinstance(event, (BuildStarted, BuildPlanned)):
            await conn.execute("UPDATE build_queue SET last_seen = now() "
                               "WHERE deployment_id = $1", event.deployment_id)
        elif isinstance(event, FINAL_EVENTS):
            await self._finish(conn, event)
        elif isinstance(event, ProjectEnvSet):
            await conn.execute(
                "INSERT INTO build_env VALUES ($1, $2) ON CONFLICT (project_id) "
                "DO UPDATE SET ciphertext = EXCLUDED.ciphertext", event.project_id,
                event.ciphertext)

    async def _enqueue(self, conn: asyncpg.Connection, e: DeploymentRequested) -> None:
        inserted = await conn.fetchval(
            "INSERT INTO build_queue (deployment_id, project_id, ref, spec, requested_at, state) "
            "VALUES ($1, $2, $3, $4, $5, 'queued') ON CONFLICT DO NOTHING RETURNING 1",
            e.deployment_id, e.project_id, e.spec.ref, e.spec.model_dump_json(), e.occurred_at)
        if inserted:
            await self._supersede(conn, e)

    async def _supersede(self, conn: asyncpg.Connection, e: DeploymentRequested) -> None:
        older = await conn.fetch(
            "UPDATE build_queue SET state = 'done' WHERE project_id = $1 AND ref = $2 "
            "AND state = 'queued' AND deployment_id <> $3 AND requested_at <= $4 "
            "RETURNING deployment_id", e.project_id, e.spec.ref, e.deployment_id,
            e.occurred_at)
        for row in older:
            await self.deps.events.append(self.settings.topic_events, e.project_id,
                                          DeploymentCanceled(**e.caused(
                                              stream_id=e.project_id, project_id=e.project_id,
                                              deployment_id=row["deployment_id"],
                                              reason="superseded")))

    async def _finish(self, conn: asyncpg.Connection, event: Any) -> None:
        was = await conn.fetchval(
            "UPDATE build_queue q SET state = 'done' FROM build_queue old "
            "WHERE q.deployment_id = old.deployment_id AND q.deployment_id = $1 "
            "RETURNING old.state", event.deployment_id)
        if was == "running" and isinstance(event, DeploymentCanceled):
            self._cancel_after_commit.append(event.deployment_id)

    async def after_commit(self) -> None:
        """Side effects of the events just projected: stop canceled builds, fill slots."""
        pending, self._cancel_after_commit = self._cancel_after_commit, []
        for deployment_id in pending:
            await self.stop_everywhere(deployment_id)
        await self.dispatch()

    # -- stopping builds in whichever worker runs them -------------------------------------

    async def stop_everywhere(self, deployment_id: str) -> None:
        """Stop the build here if it runs here, and tell every other worker."""
        await self.deps.runner.cancel(deployment_id)
        await self.deps.pool.execute("SELECT pg_notify($1, $2)", STOP_CHANNEL, deployment_id)

    async def listen(self) -> None:
        """Take stop notifications from other workers (on a connection of its own)."""
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(self.settings.database_url)
            await self._listener.add_listener(STOP_CHANNEL, self._on_stop)

    def _on_stop(self, _conn: object, _pid: int, _channel: str, deployment_id: str) -> None:
        task = asyncio.create_task(self.deps.runner.cancel(deployment_id))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def sweep(self) -> None:
        """Stop this worker's builds whose deployment was canceled (a missed notice)."""
        running = getattr(self.deps.runner, "running", None)
        ids = running() if running is not None else []
        if not ids:
            return
        canceled = await self.deps.pool.fetch(
            "SELECT q.deployment_id FROM build_queue q JOIN deployments d USING "
            "(deployment_id) WHERE q.deployment_id = ANY($1::text[]) AND q.state = 'done' "
            "AND d.status = 'CANCELED'", ids)
        for row in canceled:
            await self.deps.runner.cancel(row["deployment_id"])

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    # -- dispatching ---------------------------------------------------------------------

    async def dispatch(self) -> None:
        """Launch the oldest queued builds while fewer than the limit are running."""
        for row in await self._claim():
            await self._launch(row)

    async def _claim(self) -> list[asyncpg.Record]:
        async with self.deps.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", DISPATCH_LOCK)
            counts = dict(await conn.fetch(
                "SELECT state, count(*) FROM build_queue WHERE state IN ('queued', 'running') "
                "GROUP BY state"))
            queued, running = counts.get("queued", 0), counts.get("running", 0)
            free = self.settings.max_concurrent_builds - running
            claimed: list[asyncpg.Record] = []
            if free > 0 and queued:
                claimed = list(await conn.fetch(
                    "UPDATE build_queue SET state = 'running', launched_at = now(), "
                    "last_seen = now() WHERE deployment_id IN (SELECT deployment_id FROM "
                    "build_queue WHERE state = 'queued' ORDER BY requested_at, deployment_id "
                    "LIMIT $1) RETURNING deployment_id, project_id, spec, (SELECT ciphertext "
                    "FROM build_env e WHERE e.project_id = build_queue.project_id) AS env",
                    free))
            set_builds(queued - len(claimed), running + len(claimed))
            return claimed

    async def _launch(self, row: asyncpg.Record) -> None:
        spec = BuildSpec.model_validate(orjson.loads(row["spec"]))
        if row["env"]:
            spec = spec.model_copy(update={"env": self.cipher.decrypt(row["env"])})
        try:
            ref = await self.deps.runner.launch(spec)
        except RunnerError as exc:
            await self._fail(row["project_id"], row["deployment_id"],
                             f"could not start the build: {exc}", spec.correlation_id)
            return
        log.info("launched build %s (%s)", spec.deployment_id, ref)

    async def _fail(self, project_id: str, deployment_id: str, reason: str,
                    correlation_id: str | None) -> None:
        meta = Meta(correlation_id=correlation_id)
        await self.deps.events.append(self.settings.topic_events, project_id, DeploymentFailed(
            stream_id=project_id, project_id=project_id, deployment_id=deployment_id,
            reason=reason, step=failure_step(reason), correlation_id=meta.correlation_id))

    # -- liveness ------------------------------------------------------------------------

    async def seen(self, deployment_ids: set[str], at: datetime | None = None) -> None:
        """A running build reported (log lines or a heartbeat)."""
        if deployment_ids:
            await self.deps.pool.execute(
                "UPDATE build_queue SET last_seen = now() WHERE state = 'running' "
                "AND deployment_id = ANY($1::text[])", list(deployment_ids))

    async def reap_overdue(self) -> None:
        """For runners that can (ECS): stop build tasks past their deadline, recording
        the timeout first."""
        reap = getattr(self.deps.runner, "reap_overdue", None)
        if reap is not None:
            await reap(self._timed_out)

    async def _timed_out(self, deployment_id: str) -> None:
        row = await self.deps.pool.fetchrow(
            "UPDATE build_queue SET state = 'done' WHERE deployment_id = $1 "
            "AND state = 'running' RETURNING project_id", deployment_id)
        if row is not None:
            await self._fail(row["project_id"], deployment_id,
                             f"timed out after {self.settings.build_timeout_seconds} s", None)

    async def watchdog(self) -> None:
        """Fail running builds that stopped reporting; nothing stays BUILDING forever."""
        silent = self.settings.watchdog_seconds
        rows = await self.deps.pool.fetch(
            "UPDATE build_queue SET state = 'done' WHERE state = 'running' AND last_seen < "
            "now() - make_interval(secs => $1) RETURNING deployment_id, project_id, spec",
            float(silent))
        for row in rows:
            spec = BuildSpec.model_validate(orjson.loads(row["spec"]))
            await self.stop_everywhere(row["deployment_id"])
            await self._fail(row["project_id"], row["deployment_id"],
                             f"the build stopped reporting (no heartbeat for {silent:g} s)",
                             spec.correlation_id)
        if rows:
            await self.dispatch()
