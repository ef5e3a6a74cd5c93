"""HTTP endpoints that deploy from outside: the GitHub and GitLab push webhooks, deploy
hook URLs, and the project routes that set the webhook secret and make deploy hooks.

Webhook bodies are read raw, at most ``webhook_max_body_bytes``, and verified before
anything in them is trusted; a refused delivery appends nothing.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from commands.deployments.http import deployment_response
from commands.deps import WriteDep, run
from commands.hooks.service import Webhooks
from schemas.api import DeploymentAccepted
from schemas.envelope import new_id
from schemas.errors import RateLimited, TooLarge
from schemas.webhooks import (
    DeployHookBody,
    DeployHookCreated,
    DeployHookCreatedOut,
    WebhookOut,
    WebhookSecretOut,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])

DELIVERY_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookOut, "description": "ping answered, or a delivery already "
                                              "processed (`duplicate`)"},
    400: {"description": "signed, but not a JSON object"},
    401: {"description": "no project's secret verifies the delivery; nothing appended"},
    413: {"description": "the body is over the size limit"},
}
ProjectHint = Annotated[str | None, Query(
    alias="project", max_length=64, description="verify against this project's secret "
    "only (else: every project deploying the payload's repository)")]


def get_webhooks(request: Request, platform: WriteDep) -> Webhooks:
    hooks: Webhooks | None = getattr(request.app.state, "webhooks", None)
    if hooks is None:
        hooks = request.app.state.webhooks = Webhooks(platform)
    return hooks


WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused past ``limit`` bytes before it is all read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is over {limit} bytes")
    return bytes(body)


def answer(result: tuple[int, WebhookOut]) -> JSONResponse:
    code, out = result
    return JSONResponse(out.model_dump(mode="json"), status_code=code)


@router.post("/webhooks/github", status_code=status.HTTP_202_ACCEPTED,
             response_model=WebhookOut, responses=DELIVERY_ANSWERS)
async def github_webhook(request: Request, hooks: WebhooksDep, project: ProjectHint = None
                         ) -> JSONResponse:
    """GitHub push webhook: a branch push signed with the project's secret deploys."""
    body = await read_body(request, hooks.settings.webhook_max_body_bytes)
    return answer(await hooks.github(body, request.headers, project))


@router.post("/webhooks/gitlab", status_code=status.HTTP_202_ACCEPTED,
             response_model=WebhookOut, responses=DELIVERY_ANSWERS)
async def gitlab_webhook(request: Request, hooks: WebhooksDep, project: ProjectHint = None
                         ) -> JSONResponse:
    """GitLab push webhook: a Push Hook with the project's secret token deploys."""
    body = await read_body(request, hooks.settings.webhook_max_body_bytes)
    return answer(await hooks.gitlab(body, request.headers, project))


@router.post("/hooks/{token}", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted, responses={
                 404: {"description": "no such deploy hook"},
                 429: {"description": "called too often; see Retry-After"}})
async def trigger_deploy_hook(token: str, hooks: WebhooksDep) -> Any:
    """Deploy hook: deploy the hook's project (its branch, or the hook's), rate-limited."""
    try:
        outcome = await hooks.trigger(token)
    except RateLimited as exc:
        return JSONResponse(exc.to_json(), status_code=exc.status,
                            headers={"Retry-After": str(exc.details["retry_after"])})
    return deployment_response(outcome, hooks.settings)


@router.post("/projects/{project_id}/webhook-secret", status_code=status.HTTP_201_CREATED,
             response_model=WebhookSecretOut)
async def set_webhook_secret(project_id: str, platform: WriteDep, hooks: WebhooksDep
                             ) -> WebhookSecretOut:
    """Make (or rotate) the project's webhook secret; it is shown only in this answer."""
    secret = secrets.token_urlsafe(32)
    await run(platform, lambda conn, meta: hooks.set_secret(conn, project_id, secret, meta))
    s = platform.settings
    return WebhookSecretOut(
        project_id=project_id, secret=secret,
        github_url=s.api_url(f"/v1/webhooks/github?project={project_id}"),
        gitlab_url=s.api_url(f"/v1/webhooks/gitlab?project={project_id}"))


@router.post("/projects/{project_id}/deploy-hooks", status_code=status.HTTP_201_CREATED,
             response_model=DeployHookCreatedOut)
async def create_deploy_hook(project_id: str, body: DeployHookBody, platform: WriteDep,
                             hooks: WebhooksDep) -> DeployHookCreatedOut:
    """Make a deploy hook URL; POST to it deploys. The URL is shown only in this answer."""
    hook_id, token = new_id(), secrets.token_urlsafe(32)
    outcome = await run(platform, lambda conn, meta: hooks.create_hook(
        conn, project_id, body, hook_id, token, meta))
    created = next(e for e in outcome.events if isinstance(e, DeployHookCreated))
    return DeployHookCreatedOut(
        id=hook_id, project_id=project_id, name=created.name, branch=created.branch,
        created_at=created.occurred_at, url=platform.settings.api_url(f"/v1/hooks/{token}"))


@router.delete("/projects/{project_id}/deploy-hooks/{hook_id}",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def revoke_deploy_hook(project_id: str, hook_id: str, platform: WriteDep,
                             hooks: WebhooksDep) -> Response:
    """Revoke a deploy hook: its URL answers 404 from now on."""
    await run(platform, lambda conn, meta: hooks.revoke_hook(conn, project_id, hook_id, meta))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
