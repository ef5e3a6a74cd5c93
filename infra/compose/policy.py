"""Who may call each route: the one place that decides.

``POLICY`` maps every route (method, path template) to what it needs: a scope on the
team that owns the resource in its path, any valid token, nothing (public), or the
route's own credential (a build grant, a webhook signature, a deploy hook's token).
``authorize`` runs before every route: it authenticates the token, then

- a token without the scope is 403;
- a resource of a team the caller is not in, or outside the token's team or project,
  is 404, so its existence does not leak;
- a role in the team that does not allow the scope is 403.

It leaves the principal in ``request.state.principal``, the team in
``request.state.team_id`` and, for lists, what the caller may see in
``request.state.visible``. ``tests/unit/test_policy.py`` fails for a route without a
rule.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from fastapi import HTTPException, WebSocketException
from starlette.requests import HTTPConnection

from commands.accounts.store import Principal
from commands.teams import store as teams
from infra import actors
from schemas.accounts import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Scope
from schemas.audit import Actor
from schemas.errors import BuildspaceError, Forbidden, Invalid, NotFound
from schemas.teams import ROLE_SCOPES

Needs = Scope | Literal["signed-in", "public", "own"]
On = Literal["none", "team", "project", "deployment", "new-project"]


@dataclass(frozen=True)
class Rule:
    needs: Needs
    on: On = "none"
    why: str = ""  # for "public" and "own": who may call it, in words


def own(why: str) -> Rule:
    return Rule("own", why=why)


PUBLIC = Rule("public", why="anyone: no secrets")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): PUBLIC, ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC, ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC, ("GET", "/metrics"): PUBLIC,
    ("GET", "/"): Rule("public", why="anyone: the dashboard's page, which holds no data"),
    ("GET", "/ui/{name:path}"): Rule("public", why="anyone: the dashboard's code and style"),
    ("POST", "/v1/auth/login"): Rule("public", why="anyone, with email and password; "
                                                   "failures are rate-limited"),
    ("POST", "/v1/auth/password-reset"): Rule("public", why="anyone: the link goes to the "
                                                            "account's email"),
    ("POST", "/v1/auth/password-reset/confirm"): Rule("public", why="whoever holds a "
                                                                    "reset link"),
    ("GET", "/v1/auth/{provider}/login"): Rule("public", why="anyone: the provider "
                                                              "vouches for who signs in"),
    ("GET", "/v1/auth/{provider}/callback"): Rule("public", why="the provider's redirect, "
                                                                "with a one-time state"),
    ("POST", "/v1/auth/logout"): Rule("signed-in"),
    ("POST", "/v1/auth/totp"): Rule("signed-in"),
    ("POST", "/v1/auth/totp/confirm"): Rule("signed-in"),
    ("POST", "/v1/auth/totp/disable"): Rule("signed-in"),
    ("GET", "/v1/auth/me"): Rule("signed-in"),
    ("POST", "/v1/tokens"): Rule("admin"), ("GET", "/v1/tokens"): Rule("admin"),
    ("DELETE", "/v1/tokens/{token_id}"): Rule("admin"),
    ("POST", "/v1/auth/signup"): Rule("public", why="anyone with an invitation (or "
                                                    "anyone, with BUILDSPACE_SIGNUP=open)"),
    ("GET", "/v1/teams"): Rule("signed-in"), ("POST", "/v1/teams"): Rule("signed-in"),
    ("GET", "/v1/teams/{team_id}/members"): Rule("read", "team"),
    ("PATCH", "/v1/teams/{team_id}"): Rule("admin", "team"),
    ("DELETE", "/v1/teams/{team_id}"): Rule("admin", "team"),  # and the owner role
    ("GET", "/v1/teams/{team_id}/audit"): Rule("admin", "team"),
    ("POST", "/v1/replays"): Rule("admin", why="the instance owner only (checked by the "
                                               "route): the read models are the platform's"),
    ("POST", "/v1/teams/{team_id}/invitations"): Rule("admin", "team"),
    ("PATCH", "/v1/teams/{team_id}/members/{user_id}"): Rule("admin", "team"),
    ("DELETE", "/v1/teams/{team_id}/members/{user_id}"): Rule("admin", "team"),
    ("POST", "/v1/projects"): Rule("write", "new-project"),
    ("POST", "/project"): Rule("write", "new-project"),
    ("GET", "/v1/projects"): Rule("read"),
    ("GET", "/v1/projects/{project_id}"): Rule("read", "project"),
    ("PATCH", "/v1/projects/{project_id}"): Rule("write", "project"),
    ("DELETE", "/v1/projects/{project_id}"): Rule("admin", "project"),
    ("GET", "/v1/projects/{project_id}/env"): Rule("read", "project"),
    ("PUT", "/v1/projects/{project_id}/env"): Rule("write", "project"),
    ("PATCH", "/v1/projects/{project_id}/env"): Rule("write", "project"),
    ("GET", "/v1/projects/{project_id}/env/values"): Rule("admin", "project"),
    ("GET", "/v1/projects/{project_id}/deployments"): Rule("read", "project"),
    ("POST", "/v1/projects/{project_id}/deployments"): Rule("deploy", "project"),
    ("POST", "/v1/projects/{project_id}/promote"): Rule("deploy", "project"),
    ("POST", "/v1/projects/{project_id}/rollback"): Rule("deploy", "project"),
    ("POST", "/v1/projects/{project_id}/uploads"): Rule("deploy", "project"),
    ("POST", "/v1/projects/{project_id}/uploads/{upload_id}/deploy"): Rule("deploy", "project"),
    ("GET", "/v1/projects/{project_id}/analytics"): Rule("read", "project"),
    ("GET", "/v1/projects/{project_id}/domains"): Rule("read", "project"),
    ("POST", "/v1/projects/{project_id}/domains"): Rule("write", "project"),
    ("POST", "/v1/projects/{project_id}/domains/{hostname}/verify"): Rule("write", "project"),
    ("DELETE", "/v1/projects/{project_id}/domains/{hostname}"): Rule("write", "project"),
    ("POST", "/v1/projects/{project_id}/webhook-secret"): Rule("write", "project"),
    ("POST", "/v1/projects/{project_id}/deploy-hooks"): Rule("write", "project"),
    ("DELETE", "/v1/projects/{project_id}/deploy-hooks/{hook_id}"): Rule("write", "project"),
    ("GET", "/v1/projects/{project_id}/hooks"): Rule("read", "project"),
    ("GET", "/v1/projects/{project_id}/webhooks"): Rule("read", "project"),
    ("POST", "/v1/projects/{project_id}/webhooks"): Rule("write", "project"),
    ("DELETE", "/v1/projects/{project_id}/webhooks/{webhook_id}"): Rule("write", "project"),
    ("GET", "/v1/projects/{project_id}/webhooks/{webhook_id}/deliveries"):
        Rule("read", "project"),
    ("GET", "/v1/deployments/{deployment_id}"): Rule("read", "deployment"),
    ("GET", "/v1/deployments/{deployment_id}/logs"): Rule("read", "deployment"),
    ("GET", "/v1/deployments/{deployment_id}/logs/stream"): Rule("read", "deployment"),
    ("WS", "/v1/deployments/{deployment_id}/logs/ws"): Rule("read", "deployment"),
    ("GET", "/logs/{deployment_id}"): Rule("read", "deployment"),
    ("POST", "/v1/deployments/{deployment_id}/cancel"): Rule("deploy", "deployment"),
    ("POST", "/v1/deployments/{deployment_id}/redeploy"): Rule("deploy", "deployment"),
    **{(method, f"/v1/builds/{{deployment_id}}/{path}"): own("the build's grant")
       for method, path in (("GET", "spec"), ("POST", "events"), ("POST", "logs"),
                            ("POST", "blobs"), ("PUT", "manifest"), ("GET", "source"))},
    ("POST", "/v1/webhooks/github"): own("GitHub, signed with the project's webhook secret"),
    ("POST", "/v1/webhooks/gitlab"): own("GitLab, with the project's webhook secret"),
    ("POST", "/v1/hooks/{token}"): own("whoever holds the deploy hook's URL"),
    **{(method, path): Rule("admin", why="the instance owner only (checked by the routes): "
                                         "dead letters are the platform's, not a team's")
       for method, path in (("GET", "/v1/dead-letters"), ("GET", "/v1/dead-letters/{letter_id}"),
                            ("POST", "/v1/dead-letters/{letter_id}/redrive"))},
}


@dataclass(frozen=True)
class Visible:
    """What a caller may list: projects of these teams (``None`` in ``teams`` means the
    instance owner's, for projects made before accounts), or one project."""

    teams: list[str] = field(default_factory=list)
    owner_team: str | None = None
    project_id: str | None = None


def credentials(connection: HTTPConnection) -> str | None:
    """The ``Authorization`` header, or else the session cookie, which an unsafe request
    must back with the CSRF cookie's value in ``X-CSRF-Token`` (a page of another site
    can make the browser send the cookie, but cannot read it to repeat it)."""
    header = connection.headers.get("authorization")
    cookie = connection.cookies.get(SESSION_COOKIE)
    if header is not None or cookie is None:
        return header
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        expected = connection.cookies.get(CSRF_COOKIE, "")
        sent = connection.headers.get(CSRF_HEADER, "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Forbidden(f"a request signed in by its cookie needs the {CSRF_HEADER} "
                            f"header, with the {CSRF_COOKIE} cookie's value")
    return f"Bearer {cookie}"


def route_key(connection: HTTPConnection) -> tuple[str, str]:
    route = connection.scope.get("route")
    method = "WS" if connection.scope["type"] == "websocket" else connection.scope["method"]
    return method, getattr(route, "path", "")


async def authorize(connection: HTTPConnection) -> None:
    """The app's dependency: every route passes here first."""
    try:
        await _authorize(connection)
    except BuildspaceError as exc:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(code=4000 + exc.status, reason=exc.message) from None
        raise


async def _authorize(connection: HTTPConnection) -> None:
    rule = POLICY.get(route_key(connection))
    if rule is None:  # a route the table does not know is nobody's
        raise HTTPException(status_code=403, detail="this route has no policy")
    if rule.needs == "public" or rule.needs == "own":
        return
    platform = connection.app.state.platform
    ip = connection.client.host if connection.client else None
    principal = await platform.accounts.authenticate(credentials(connection), ip)
    connection.state.principal = principal
    actors.act_as(Actor(
        kind="user" if principal.kind == "session" else "token",
        id=principal.token_id, user_id=principal.user_id, ip=ip))
    if rule.needs == "signed-in":
        return
    needs: Scope = rule.needs
    if needs not in principal.scopes:
        raise Forbidden(f"this token lacks the {needs} scope")
    async with platform.pool.acquire() as conn:
        if rule.on == "none":
            connection.state.visible = await visible(conn, principal)
            return
        team, project = await resource(conn, connection, rule.on, principal)
        await permit(conn, principal, needs, rule.on, team, project)
    connection.state.team_id = team


async def permit(conn: asyncpg.Connection, principal: Principal, needs: Scope, on: On,
                 team: str, project: str | None) -> None:
    """May ``principal`` use ``needs`` on ``project`` of ``team`` (or on the team, for
    a new project)? 404 outside its teams or its token's limit, 403 for too small a
    role."""
    what = "team" if on == "new-project" else on
    if principal.project_id is not None and project != principal.project_id:
        if on == "new-project":
            raise Forbidden("this token is limited to one project")
        raise NotFound(f"{what} not found")
    if principal.team_id is not None and team != principal.team_id:
        raise NotFound(f"{what} not found")
    role, missing_2fa = await teams.membership(conn, team, principal.user_id)
    if role is None:
        raise NotFound(f"{what} not found")
    if needs not in principal.scopes:
        raise Forbidden(f"this token lacks the {needs} scope")
    if needs not in ROLE_SCOPES[role]:
        raise Forbidden(f"your role in this team ({role}) does not allow {needs}")
    if missing_2fa:
        raise Forbidden("this team requires two-factor sign-in: turn it on with "
                        "POST /v1/auth/totp")


async def may_read_logs(platform: Any, token: str | None, subdomain: str) -> bool:
    """For the Socket.IO gateway: may this token follow the logs of the project with
    this subdomain?"""
    try:
        principal = await platform.accounts.authenticate(f"Bearer {token or ''}", None)
        async with platform.pool.acquire() as conn:
            project = await conn.fetchval("SELECT project_id FROM cmd_subdomains "
                                          "WHERE subdomain = $1", subdomain)
            team = project and await teams.project_team(conn, project)
            if not team:
                return False
            await permit(conn, principal, "read", "project", team, project)
    except BuildspaceError:
        return False
    return True


async def resource(conn: asyncpg.Connection, connection: HTTPConnection, on: On,
                   principal: Principal) -> tuple[str, str | None]:
    """(team, project) of the resource the request names."""
    params = connection.path_params
    if on == "new-project":
        return await new_project_team(conn, connection, principal), None
    if on == "team":
        return params["team_id"], None
    project_id: str | None = params.get("project_id")
    if on == "deployment":
        project_id = await conn.fetchval("SELECT project_id FROM cmd_deployments "
                                         "WHERE deployment_id = $1", params["deployment_id"])
        if project_id is None:
            raise NotFound(f"deployment {params['deployment_id']} not found")
    team = None if project_id is None else await teams.project_team(conn, project_id)
    if team is None:
        raise NotFound(f"project {project_id} does not exist", field="project_id")
    return team, project_id


async def new_project_team(conn: asyncpg.Connection, connection: HTTPConnection,
                           principal: Principal) -> str:
    """The team a new project goes to: the ``team_id`` query parameter, else the token's
    team, else the caller's personal team."""
    wanted = connection.query_params.get("team_id")
    if wanted is not None and not 0 < len(wanted) <= 64:
        raise Invalid("not a team id", field="team_id")
    team = wanted or principal.team_id or await teams.personal_team(conn, principal.user_id)
    if team is None:
        raise NotFound("team not found", field="team_id")
    return team


async def visible(conn: asyncpg.Connection, principal: Principal) -> Visible:
    if principal.project_id is not None:
        return Visible(project_id=principal.project_id)
    mine = [row["id"] for row in await teams.teams_of(conn, principal.user_id)]
    if principal.team_id is not None:
        mine = [t for t in mine if t == principal.team_id]
    return Visible(teams=mine, owner_team=await teams.owner_team(conn))
