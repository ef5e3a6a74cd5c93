"""The seed systems' deploy API, so their clients work unchanged:

- ``POST /project`` ``{gitURL, slug?}`` ->
  ``{"status": "queued", "data": {"projectSlug", "url"}}``
- ``POST /project`` ``{name, gitUrl}`` ->
  ``{"deploymentId", "projectSlug", "status": "QUEUE", "url"}``

Both create the project (or reuse the one with that slug and the same repository)
and start a deployment.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Request
from pydantic import ValidationError

from commands.deps import WriteDep, WriteSide, settled
from commands.service import Outcome
from commands.teams.store import owner_team
from schemas.commands import CreateProject, RequestDeployment, subdomain_for
from schemas.envelope import Meta, new_id
from schemas.errors import Conflict, Invalid
from schemas.events import DeploymentRequested
from schemas.requests import (
    NamedForm,
    QueuedForm,
)

router = APIRouter(tags=["compatibility"])


def parse_form(body: dict[str, Any]) -> tuple[str, str, bool]:
    """(name, git_url, is_named_form) from either seed body shape."""
    try:
        if "gitUrl" in body:
            named = NamedForm.model_validate(body)
            return named.name, named.gitUrl, True
        queued = QueuedForm.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(err["msg"], field=".".join(map(str, err["loc"]))) from None
    return queued.slug or f"site-{new_id()[:8]}", queued.gitURL, False


async def create_or_reuse(conn: asyncpg.Connection, platform: WriteSide, name: str,
                          git_url: str, meta: Meta, team_id: str) -> str:
    """The project of that name in ``team_id``, made when there is none."""
    cmd = CreateProject(name=name, git_url=git_url)
    existing = await platform.commands.project_for_subdomain(subdomain_for(name))
    if existing is None:
        created = await platform.commands.create_project(conn, cmd, meta, new_id(), team_id)
        return created.state.project_id
    state = await platform.commands.load(conn, existing)
    if state.git_url != cmd.git_url or (state.team_id or await owner_team(conn)) != team_id:
        raise Conflict(f"slug {subdomain_for(name)!r} is taken by another repository",
                       field="slug")
    return existing


@router.post("/project")
async def seed_project(platform: WriteDep, body: Annotated[dict[str, Any], Body()],
                       request: Request) -> dict[str, Any]:
    """Seed-compatible: create (or reuse) a project by slug and deploy it."""
    name, git_url, named = parse_form(body)
    meta = Meta.new()
    try:
        CreateProject(name=name, git_url=git_url)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = {"name": "name" if named else "slug", "git_url": "gitUrl" if named else "gitURL"}
        raise Invalid(err["msg"], field=field.get(str(err["loc"][0]), "body")) from None
    async with platform.pool.acquire() as conn, conn.transaction():
        project_id = await create_or_reuse(conn, platform, name, git_url, meta,
                                           request.state.team_id)
        outcome: Outcome = await platform.commands.request_deployment(
            conn, RequestDeployment(project_id=project_id), meta)
    await settled(platform, outcome)
    deployment = next(e for e in outcome.events if isinstance(e, DeploymentRequested))
    slug, url = outcome.state.subdomain, platform.settings.site_url(outcome.state.subdomain)
    if named:
        return {"deploymentId": deployment.deployment_id, "projectSlug": slug,
                "status": "QUEUE", "url": url}
    return {"status": "queued", "data": {"projectSlug": slug, "url": url}}
