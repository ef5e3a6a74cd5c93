"""Project control-plane events into the ``projects``, ``deployments`` and ``domains``
tables; a deployment keeps the user who requested it: the event's ``requested_by``
(v3), else, for events recorded before, its record's actor header (``infra.actors``).

Status only moves forward (QUEUED -> BUILDING -> READY | FAILED), so a late or
replayed event never drags a deployment back.
"""

from __future__ import annotations

import asyncpg
import orjson

from infra import actors
from schemas.audit import Actor
from schemas.envelope import Envelope
from schemas.events import (
    BuildPlanned,
    BuildStarted,
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentReady,
    DeploymentRequested,
    DomainAdded,
    DomainRemoved,
    DomainVerified,
    ProjectCreated,
    ProjectEnvSet,
    ProjectSettingsChanged,
)
from schemas.lifecycle import ProjectDeleted

NAME = "control_plane"


async def project_created(conn: asyncpg.Connection, e: ProjectCreated) -> None:
    await conn.execute(
        "INSERT INTO projects (project_id, name, subdomain, git_url, branch, settings, "
        "created_at, updated_at, team_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) "
        "ON CONFLICT (project_id) DO NOTHING",
        e.project_id, e.name, e.subdomain, e.git_url, e.branch,
        orjson.dumps(e.settings.model_dump()).decode(), e.occurred_at, e.team_id)


def requester(e: DeploymentRequested, by: Actor) -> Actor:
    """Who asked: the event says since v3; the record's header ``by`` said before."""
    return e.requested_by or by


async def deployment_requested(conn: asyncpg.Connection, e: DeploymentRequested,
                               by: Actor) -> None:
    """The requester's ``user_id``: a user's session or token; none for hooks, webhooks,
    the intake."""
    await conn.execute(
        "INSERT INTO deployments (deployment_id, project_id, number, ref, status, created_at, "
        "branch, target, requested_by_user_id) VALUES ($1, $2, $3, $4, 'QUEUED', $5, $6, $7, "
        "$8) ON CONFLICT (deployment_id) DO NOTHING",
        e.deployment_id, e.project_id, e.number, e.spec.ref, e.occurred_at, e.branch, e.target,
        requester(e, by).user_id)


async def build_started(conn: asyncpg.Connection, e: BuildStarted) -> None:
    await conn.execute(
        "UPDATE deployments SET status = 'BUILDING', started_at = $2, commit_sha = $3, "
        "runner = $4 WHERE deployment_id = $1 AND status = 'QUEUED'",
        e.deployment_id, e.occurred_at, e.commit_sha, e.runner)


async def build_planned(conn: asyncpg.Connection, e: BuildPlanned) -> None:
    await conn.execute(
        "UPDATE deployments SET build_plan = $2::jsonb WHERE deployment_id = $1",
        e.deployment_id, e.plan.model_dump_json())


async def deployment_ready(conn: asyncpg.Connection, e: DeploymentReady) -> None:
    await conn.execute(
        "UPDATE deployments SET status = 'READY', finished_at = $2, commit_sha = $3, "
        "file_count = $4, total_bytes = $5, uploaded_blobs = $6, install_ms = $7, "
        "build_ms = $8, log_lines = $9, started_at = coalesce(started_at, $2) "
        "WHERE deployment_id = $1 AND status IN ('QUEUED', 'BUILDING')",
        e.deployment_id, e.occurred_at, e.commit_sha, e.file_count, e.total_bytes,
        e.uploaded_blobs, e.install_ms, e.build_ms, e.log_lines)


async def deployment_failed(conn: asyncpg.Connection, e: DeploymentFailed) -> None:
    await conn.execute(
        "UPDATE deployments SET status = 'FAILED', finished_at = $2, failure_reason = $3, "
        "commit_sha = coalesce(commit_sha, $4), log_lines = $5, failure_step = $6 "
        "WHERE deployment_id = $1 AND status IN ('QUEUED', 'BUILDING')",
        e.deployment_id, e.occurred_at, e.reason, e.commit_sha, e.log_lines, e.step)


async def settings_changed(conn: asyncpg.Connection, e: ProjectSettingsChanged) -> None:
    await conn.execute(
        "UPDATE projects SET branch = $2, settings = $3, updated_at = $4 WHERE project_id = $1",
        e.project_id, e.branch, orjson.dumps(e.settings.model_dump()).decode(), e.occurred_at)


async def env_set(conn: asyncpg.Connection, e: ProjectEnvSet) -> None:
    await conn.execute(
        "UPDATE projects SET env_names = $2, updated_at = $3 WHERE project_id = $1",
        e.project_id, e.names, e.occurred_at)


async def deployment_canceled(conn: asyncpg.Connection, e: DeploymentCanceled) -> None:
    await conn.execute(
        "UPDATE deployments SET status = 'CANCELED', finished_at = $2, failure_reason = $3 "
        "WHERE deployment_id = $1 AND status IN ('QUEUED', 'BUILDING')",
        e.deployment_id, e.occurred_at, e.reason)


async def domain_added(conn: asyncpg.Connection, e: DomainAdded) -> None:
    await conn.execute(
        "INSERT INTO domains (domain_id, project_id, hostname, token, created_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (domain_id) DO NOTHING",
        e.domain_id, e.project_id, e.hostname, e.token, e.occurred_at)


async def domain_verified(conn: asyncpg.Connection, e: DomainVerified) -> None:
    await conn.execute(
        "UPDATE domains SET verified = true, verified_at = $2 "
        "WHERE domain_id = $1 AND NOT verified", e.domain_id, e.occurred_at)


async def domain_removed(conn: asyncpg.Connection, e: DomainRemoved) -> None:
    # Kept with its removal time: a replayed DomainAdded finds it and changes nothing.
    await conn.execute(
        "UPDATE domains SET removed_at = $2 WHERE domain_id = $1 AND removed_at IS NULL",
        e.domain_id, e.occurred_at)


async def project_deleted(conn: asyncpg.Connection, e: ProjectDeleted) -> None:
    # Kept, marked: queries leave it out, and artifact collection finds its deployments.
    await conn.execute(
        "UPDATE projects SET deleted_at = $2, updated_at = $2 WHERE project_id = $1 "
        "AND deleted_at IS NULL", e.project_id, e.occurred_at)
    await conn.execute(
        "UPDATE domains SET removed_at = $2 WHERE project_id = $1 AND removed_at IS NULL",
        e.project_id, e.occurred_at)


HANDLERS = {
    ProjectDeleted: project_deleted,
    DomainAdded: domain_added,
    DomainVerified: domain_verified,
    DomainRemoved: domain_removed,
    ProjectSettingsChanged: settings_changed,
    ProjectEnvSet: env_set,
    DeploymentCanceled: deployment_canceled,
    ProjectCreated: project_created,
    BuildStarted: build_started,
    BuildPlanned: build_planned,
    DeploymentReady: deployment_ready,
    DeploymentFailed: deployment_failed,
}


async def apply(conn: asyncpg.Connection, event: Envelope, by: Actor = actors.SYSTEM
                ) -> None:
    """One event, appended by ``by`` (the actor of its record's header)."""
    if isinstance(event, DeploymentRequested):
        await deployment_requested(conn, event, by)
        return
    handler = HANDLERS.get(type(event))
    if handler is not None:
        await handler(conn, event)  # type: ignore[operator]
