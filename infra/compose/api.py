"""The API role's FastAPI app: command and query routers, one error mapping, and the
lifespan that opens the connections.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from commands.accounts import http as account_http
from commands.accounts import sso_http
from commands.builds import http as build_http
from commands.builds import source as build_source
from commands.compat import http as compat_http
from commands.dead_letters import http as dead_letter_http
from commands.deployments import http as deployment_http
from commands.domains import http as domain_http
from commands.hooks import http as hook_http
from commands.lifecycle import http as lifecycle_http
from commands.projects import http as project_http
from commands.teams import http as team_http
from commands.uploads import http as upload_http
from dashboard import http as dashboard_http
from infra.compose.platform import Platform
from infra.compose.policy import authorize
from infra.idempotency import HEADER as IDEMPOTENCY_HEADER
from infra.idempotency import MAX_KEY, Idempotency
from infra.idempotency import METHODS as IDEMPOTENT_METHODS
from infra.metrics import RequestMetrics, exposition, health, health_status
from projections import (
    audit,
    dead_letter_queries,
    log_stream,
    outgoing_queries,
    replay_http,
)
from projections import hooks as hook_queries
from projections import http as query_http
from schemas.errors import BuildspaceError, RateLimited, Unauthorized


async def on_model_error(request: Request, exc: Exception) -> JSONResponse:
    """A command model built inside an endpoint rejected its input."""
    assert isinstance(exc, ValidationError)
    fields = [{"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
              for e in exc.errors()]
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return JSONResponse(
        {"error": {"code": "invalid", "message": message, "fields": fields}}, status_code=422)


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        fields.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalid")})
    return fields


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc)
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return JSONResponse(
        {"error": {"code": "invalid", "message": message, "fields": fields}}, status_code=422)


async def on_buildspace_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BuildspaceError)
    headers = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after"])
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)


async def database_answers(pool: asyncpg.Pool, timeout: float = 2.0) -> bool:
    try:
        return bool(await asyncio.wait_for(pool.fetchval("SELECT 1"), timeout))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False


def openapi_with_idempotency(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI, with the ``Idempotency-Key`` header on every command route (the
    middleware ``infra.idempotency`` reads it, outside FastAPI's routing)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        header = {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                  "description": "retry safely: a request repeated with the same key (per "
                  "credential, for 24 h) gets the first answer and changes nothing; the "
                  "same key for another request is 422, during the first one 409",
                  "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY}}
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                if method.upper() in IDEMPOTENT_METHODS:
                    operation.setdefault("parameters", []).append(header)
        app.openapi_schema = schema
    return app.openapi_schema


def create_api(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="Buildspace", version="0.1.0",
        description="Self-hosted deployments: Git repository in, site at its subdomain out.",
        dependencies=[Depends(authorize)],  # who may call each route: infra.compose.policy
    )
    app.state.platform = platform
    app.add_middleware(Idempotency, platform=platform)
    app.openapi = functools.partial(openapi_with_idempotency, app)  # type: ignore[method-assign]
    app.add_middleware(RequestMetrics)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(BuildspaceError, on_buildspace_error)
    app.add_exception_handler(ValidationError, on_model_error)
    app.include_router(account_http.router)
    app.include_router(sso_http.router)
    app.include_router(team_http.router)
    app.include_router(project_http.router)
    app.include_router(deployment_http.router)
    app.include_router(domain_http.router)
    app.include_router(query_http.router)
    app.include_router(log_stream.router)
    app.include_router(compat_http.router)
    app.include_router(query_http.compat)
    app.include_router(build_http.router)
    app.include_router(upload_http.router)
    app.include_router(build_source.router)
    app.include_router(hook_http.router)
    app.include_router(hook_queries.router)
    app.include_router(lifecycle_http.router)
    app.include_router(outgoing_queries.router)
    app.include_router(audit.router)
    app.include_router(replay_http.router)
    app.include_router(dead_letter_queries.router)
    app.include_router(dead_letter_http.router)
    app.include_router(dashboard_http.router)

    @app.get("/healthz", tags=["health"], responses={503: {"description": "Unavailable"}})
    async def healthz() -> JSONResponse:
        """Health: 200 while the API reaches its database, 503 when it does not."""
        ok = await database_answers(platform.pool)
        answer = health(ok, database="reachable" if ok else "unreachable")
        return JSONResponse(answer, status_code=health_status(answer))

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus metrics of the API process (requests, latency, builds, log lines)."""
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
