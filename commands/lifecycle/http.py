"""HTTP command endpoints: delete a project, add and remove its outgoing webhooks.
Responses come from the decided events, never from a read model.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from commands.deps import WriteDep, run, settled
from commands.lifecycle.service import ProjectLifecycle
from schemas.envelope import Meta, new_id
from schemas.lifecycle import ProjectDeleted, ProjectDeletedOut
from schemas.outgoing import WebhookAdded, WebhookBody, WebhookOut

router = APIRouter(prefix="/v1", tags=["lifecycle"])


def get_lifecycle(platform: WriteDep) -> ProjectLifecycle:
    return ProjectLifecycle(platform.commands)


LifecycleDep = Annotated[ProjectLifecycle, Depends(get_lifecycle)]


@router.delete("/projects/{project_id}", status_code=status.HTTP_202_ACCEPTED,
               response_model=ProjectDeletedOut,
               responses={404: {"description": "no such project (or already deleted)"}})
async def delete_project(project_id: str, platform: WriteDep, lifecycle: LifecycleDep
                         ) -> ProjectDeletedOut:
    """Delete a project: its URLs stop serving at once, its name and domains are free
    again, and its build output is removed after the retention window."""
    await platform.consistency.wait()  # see the deployments still to cancel
    outcome = await run(platform, lambda conn, meta: lifecycle.delete_project(
        conn, project_id, meta))
    deleted = next(e for e in outcome.events if isinstance(e, ProjectDeleted))
    keep = timedelta(hours=platform.settings.deleted_retention_hours)
    return ProjectDeletedOut(id=project_id, deleted_at=deleted.occurred_at,
                             artifacts_collected_after=deleted.occurred_at + keep)


@router.post("/projects/{project_id}/webhooks", status_code=status.HTTP_201_CREATED,
             response_model=WebhookOut, tags=["webhooks"])
async def add_webhook(project_id: str, body: WebhookBody, platform: WriteDep,
                      lifecycle: LifecycleDep) -> WebhookOut:
    """Send deployment events to a URL, signed with a secret shown only in this answer."""
    webhook_id, meta = new_id(), Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        made = await lifecycle.add_webhook(conn, project_id, body, webhook_id, meta)
    await settled(platform, made.outcome)
    added = next(e for e in made.outcome.events if isinstance(e, WebhookAdded))
    return WebhookOut(id=webhook_id, project_id=project_id, url=added.url,
                      events=added.events, secret=made.secret,
                      created_at=added.occurred_at)


@router.delete("/projects/{project_id}/webhooks/{webhook_id}",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               tags=["webhooks"])
async def remove_webhook(project_id: str, webhook_id: str, platform: WriteDep,
                         lifecycle: LifecycleDep) -> Response:
    """Remove a webhook: nothing more is sent to it, pending retries included."""
    await run(platform, lambda conn, meta: lifecycle.remove_webhook(
        conn, project_id, webhook_id, meta))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
