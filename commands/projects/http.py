"""HTTP command endpoints. Each validates, decides and appends; the response is built
from the decided events, never from a read model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from commands.deps import WriteDep, run, settled
from commands.projects.env import env_values, patch_env
from commands.service import Outcome
from infra.settings import Settings
from schemas.api import (
    MASK,
    EnvOut,
    EnvValuesOut,
    ProjectOut,
    SettingsOut,
)
from schemas.commands import (
    CreateProject,
    SetProjectEnv,
    UpdateProject,
)
from schemas.envelope import Meta, new_id
from schemas.events import (
    ProjectCreated,
    ProjectEnvSet,
)
from schemas.requests import (
    EnvBody,
    EnvPatchBody,
    SettingsBody,
)

router = APIRouter(prefix="/v1", tags=["commands"])
TeamQuery = Annotated[str | None, Query(max_length=64, description="the team to create it "
                                        "in (the policy reads it)")]


def project_response(outcome: Outcome, settings: Settings) -> ProjectOut:
    created = next(e for e in outcome.events if isinstance(e, ProjectCreated))
    return ProjectOut(
        id=created.project_id, name=created.name, subdomain=created.subdomain,
        git_url=created.git_url, branch=created.branch, url=settings.site_url(created.subdomain),
        created_at=created.occurred_at, team_id=created.team_id,
        **created.settings.model_dump(),
    )


@router.post("/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectOut)
async def create_project(cmd: CreateProject, platform: WriteDep, request: Request,
                         team_id: TeamQuery = None) -> ProjectOut:
    """Create a project from a Git repository; its site is served at its subdomain. It
    belongs to ``team_id`` (the caller needs the admin role there), or else to the
    token's team or the caller's personal team."""
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await platform.commands.create_project(conn, cmd, meta, new_id(),
                                                         request.state.team_id)
    await settled(platform, outcome)
    return project_response(outcome, platform.settings)


@router.patch("/projects/{project_id}", response_model=SettingsOut)
async def update_project(project_id: str, body: SettingsBody, platform: WriteDep
                         ) -> SettingsOut:
    """Change build settings for deployments requested from now on (given fields only)."""
    cmd = UpdateProject(project_id=project_id, **body.model_dump(exclude_unset=True))
    outcome = await run(platform, lambda conn, meta: platform.commands.update_project(
        conn, cmd, meta))
    return SettingsOut(id=project_id, branch=outcome.state.branch,
                       settings=outcome.state.settings)


@router.put("/projects/{project_id}/env", response_model=EnvOut)
async def set_env(project_id: str, body: EnvBody, platform: WriteDep) -> EnvOut:
    """Replace the build variables; values are stored encrypted and never shown again."""
    cmd = SetProjectEnv(project_id=project_id, vars=body.vars)
    await run(platform, lambda conn, meta: platform.commands.set_env(conn, cmd, meta))
    return EnvOut(project_id=project_id, vars=dict.fromkeys(sorted(cmd.vars), MASK))


@router.patch("/projects/{project_id}/env", response_model=EnvOut, responses={
    404: {"description": "no such project, or a name in unset is not set"}})
async def change_env(project_id: str, body: EnvPatchBody, platform: WriteDep) -> EnvOut:
    """Set some build variables and remove others; the rest are kept.

    Removing a name that is not set is a 404 naming it, as Vercel's and Netlify's
    APIs and CLIs answer for an unknown variable: a typo in ``unset`` is reported
    instead of passing silently, and nothing changes. A name both set and unset is a
    422. The answer lists every variable, values masked."""
    outcome = await run(platform, lambda conn, meta: patch_env(
        conn, platform.commands, project_id, body, meta))
    done = next(e for e in outcome.events if isinstance(e, ProjectEnvSet))
    return EnvOut(project_id=project_id, vars=dict.fromkeys(done.names, MASK))


@router.get("/projects/{project_id}/env/values", response_model=EnvValuesOut)
async def read_env_values(project_id: str, platform: WriteDep, response: Response
                          ) -> EnvValuesOut:
    """The build variables with their real values, as of the last change (for the
    team's admins: ``buildspace env pull``)."""
    response.headers["Cache-Control"] = "no-store"
    async with platform.pool.acquire() as conn:
        found = await env_values(conn, platform.commands, project_id)
    return EnvValuesOut(project_id=project_id, vars=found)
