"""Deciding, pure, for the end of a project and its outgoing webhooks. The caller
reads what deciding needs (the deployments still running, whether a webhook exists)
and makes the secret; nothing here touches a service.
"""

from __future__ import annotations

from typing import Any

from commands.projects.decide import ProjectState, require
from schemas.envelope import Envelope, Meta
from schemas.errors import Conflict, NotFound
from schemas.events import DeploymentCanceled
from schemas.lifecycle import ProjectDeleted
from schemas.outgoing import WebhookAdded, WebhookEventType, WebhookRemoved

MAX_WEBHOOKS = 20


def delete_project(state: ProjectState, unfinished: list[str], meta: Meta) -> list[Envelope]:
    """Cancel the project's ``unfinished`` deployments (queued or building), then delete
    it. A deleted project is a 404 for every command, this one included."""
    require(state, state.project_id)
    envelope: dict[str, Any] = {
        "stream_id": state.project_id, "project_id": state.project_id,
        "correlation_id": meta.correlation_id, "causation_id": meta.causation_id}
    canceled: list[Envelope] = [
        DeploymentCanceled(deployment_id=d, reason="project deleted", **envelope)
        for d in unfinished]
    return [*canceled, ProjectDeleted(name=state.name, subdomain=state.subdomain,
                                      hostnames=sorted(state.domains), **envelope)]


def add_webhook(state: ProjectState, webhook_id: str, url: str,
                events: list[WebhookEventType], ciphertext: str, existing: int, meta: Meta
                ) -> list[Envelope]:
    """``ciphertext`` is the secret already encrypted; ``existing`` the project's webhooks."""
    require(state, state.project_id)
    if existing >= MAX_WEBHOOKS:
        raise Conflict(f"a project has at most {MAX_WEBHOOKS} webhooks", field="url")
    return [WebhookAdded(
        stream_id=state.project_id, project_id=state.project_id, webhook_id=webhook_id,
        url=url, events=events, ciphertext=ciphertext, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def remove_webhook(state: ProjectState, webhook_id: str, exists: bool, meta: Meta
                   ) -> list[Envelope]:
    require(state, state.project_id)
    if not exists:
        raise NotFound(f"webhook {webhook_id} not found", field="webhook_id")
    return [WebhookRemoved(
        stream_id=state.project_id, project_id=state.project_id, webhook_id=webhook_id,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]
