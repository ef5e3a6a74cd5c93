"""Project the control plane into outgoing webhooks and their outbox.

``outgoing_webhooks`` holds each project's webhooks (the secret as ciphertext);
``webhook_outbox`` one row per (webhook, event) a webhook wants: the body to send, made
once, so every attempt sends the same bytes. Rows are inserted in the projection's
transaction with its tracking row and keyed by (webhook, event): a redelivered event
adds nothing. The worker's sender (``streams.deliveries``) sends them.

A deployment event maps to ``deployment.created`` (requested), ``.ready``, ``.failed``,
``.promoted`` and ``.rolled_back``. Events older than ``STALE_AFTER`` when projected
(a read model rebuilt from the topic) are not sent again. A replay (``buildspace
replay``) rebuilds the webhooks and what payloads need, never the outbox and its
attempts: they are the sender's state, kept across the swap, and nothing is sent again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from infra.settings import Settings
from schemas.envelope import Envelope, utcnow
from schemas.events import (
    DeploymentFailed,
    DeploymentPromoted,
    DeploymentReady,
    DeploymentRequested,
    ProductionRolledBack,
    ProjectCreated,
)
from schemas.lifecycle import ProjectDeleted
from schemas.outgoing import WebhookAdded, WebhookEventType, WebhookRemoved
from schemas.routes import deployment_label

NAME = "outgoing_webhooks"
STALE_AFTER = timedelta(hours=24)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outgoing_webhooks (
    webhook_id text PRIMARY KEY,
    project_id text NOT NULL,
    url text NOT NULL,
    events text[] NOT NULL,
    ciphertext text NOT NULL,
    created_at timestamptz NOT NULL,
    removed_at timestamptz
);
CREATE INDEX IF NOT EXISTS outgoing_webhooks_project ON outgoing_webhooks (project_id);
CREATE TABLE IF NOT EXISTS outgoing_deployments (
    deployment_id text PRIMARY KEY,
    project_id text NOT NULL,
    subdomain text NOT NULL,
    number integer NOT NULL,
    ref text NOT NULL,
    branch text,
    target text NOT NULL
);
CREATE TABLE IF NOT EXISTS outgoing_projects (
    project_id text PRIMARY KEY,
    subdomain text NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    delivery_id text PRIMARY KEY,
    webhook_id text NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    body bytea NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz,
    lease_until timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due ON webhook_outbox (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_outbox_webhook ON webhook_outbox (webhook_id, created_at);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id text NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    status_code integer,
    error text,
    duration_ms integer NOT NULL,
    next_retry_at timestamptz,
    PRIMARY KEY (delivery_id, attempt)
);
"""

WEBHOOK_TYPES: dict[type[Envelope], WebhookEventType] = {
    DeploymentRequested: "deployment.created",
    DeploymentReady: "deployment.ready",
    DeploymentFailed: "deployment.failed",
    DeploymentPromoted: "deployment.promoted",
    ProductionRolledBack: "deployment.rolled_back",
}
STATUS = {"deployment.created": "QUEUED", "deployment.failed": "FAILED"}


def delivery_id(webhook_id: str, event_id: str) -> str:
    """Stable: the same (webhook, event) is always the same delivery."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"buildspace:{webhook_id}/{event_id}").hex


def deployment_fields(event: Any, kind: WebhookEventType) -> dict[str, Any]:
    """What the event itself says about the deployment."""
    fields: dict[str, Any] = {"status": STATUS.get(kind, "READY")}
    for name in ("commit_sha", "reason", "file_count", "total_bytes"):
        if getattr(event, name, None) is not None:
            fields[name] = getattr(event, name)
    if isinstance(event, ProductionRolledBack):
        fields["previous_deployment_id"] = event.from_deployment_id
    return fields


def body(event: Any, kind: WebhookEventType, known: asyncpg.Record | None,
         settings: Settings) -> bytes:
    """``{id, type, created_at, project_id, deployment: {...}}``."""
    deployment: dict[str, Any] = {"id": event.deployment_id}
    if known is not None:
        label = deployment_label(event.deployment_id, known["subdomain"])
        deployment |= {"number": known["number"], "ref": known["ref"],
                       "branch": known["branch"], "target": known["target"],
                       "url": settings.site_url(label),
                       "project_url": settings.site_url(known["subdomain"])}
    deployment |= deployment_fields(event, kind)
    return orjson.dumps({
        "id": event.event_id, "type": kind, "created_at": event.occurred_at.isoformat(),
        "project_id": event.project_id, "deployment": deployment})


async def remember(conn: asyncpg.Connection, event: Envelope) -> None:
    """Keep what payloads need that later events do not carry (URL, number, branch)."""
    if isinstance(event, ProjectCreated):
        await conn.execute(
            "INSERT INTO outgoing_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
            event.project_id, event.subdomain)
    elif isinstance(event, DeploymentRequested):
        await conn.execute(
            "INSERT INTO outgoing_deployments SELECT $1, $2, p.subdomain, $3, $4, $5, $6 "
            "FROM outgoing_projects p WHERE p.project_id = $2 ON CONFLICT DO NOTHING",
            event.deployment_id, event.project_id, event.number, event.spec.ref,
            event.branch, event.target)


async def enqueue(conn: asyncpg.Connection, event: Any, kind: WebhookEventType,
                  settings: Settings) -> None:
    if utcnow() - event.occurred_at > STALE_AFTER:
        return
    hooks = await conn.fetch(
        "SELECT webhook_id FROM outgoing_webhooks WHERE project_id = $1 "
        "AND removed_at IS NULL AND $2 = ANY(events)", event.project_id, kind)
    if not hooks:
        return
    known = await conn.fetchrow(
        "SELECT * FROM outgoing_deployments WHERE deployment_id = $1", event.deployment_id)
    payload = body(event, kind, known, settings)
    await conn.executemany(
        "INSERT INTO webhook_outbox (delivery_id, webhook_id, event_id, type, body, "
        "created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, now()) "
        "ON CONFLICT DO NOTHING",
        [(delivery_id(h[0], event.event_id), h[0], event.event_id, kind, payload,
          event.occurred_at) for h in hooks])


async def subscriptions(conn: asyncpg.Connection, event: Envelope, deliveries: bool = True
                        ) -> None:
    if isinstance(event, WebhookAdded):
        await conn.execute(
            "INSERT INTO outgoing_webhooks (webhook_id, project_id, url, events, ciphertext, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            event.webhook_id, event.project_id, event.url, list(event.events),
            event.ciphertext, event.occurred_at)
        return
    assert isinstance(event, WebhookRemoved | ProjectDeleted)
    column = "webhook_id" if isinstance(event, WebhookRemoved) else "project_id"
    key = event.webhook_id if isinstance(event, WebhookRemoved) else event.project_id
    removed = await conn.fetch(
        f"UPDATE outgoing_webhooks SET removed_at = $2 WHERE {column} = $1 "
        "AND removed_at IS NULL RETURNING webhook_id", key, event.occurred_at)
    if not deliveries:
        return
    await conn.execute(
        "UPDATE webhook_outbox SET state = 'canceled', next_attempt_at = NULL "
        "WHERE webhook_id = ANY($1::text[]) AND state = 'pending'", [r[0] for r in removed])


def applier(settings: Settings, deliveries: bool = True) -> Any:
    """The projection; without ``deliveries`` (a replay, ``projections.replay``) only the
    webhooks and what payloads need: the outbox, which the live projection filled and
    the sender works through, is left alone, so nothing is sent again."""
    async def apply(conn: asyncpg.Connection, event: Envelope) -> None:
        if isinstance(event, WebhookAdded | WebhookRemoved | ProjectDeleted):
            await subscriptions(conn, event, deliveries)
            return
        await remember(conn, event)
        kind = WEBHOOK_TYPES.get(type(event))
        if kind is not None and deliveries:
            await enqueue(conn, event, kind, settings)
    return apply
