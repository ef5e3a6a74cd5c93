"""``buildspace redeploy | cancel | promote | rollback``: acting on deployments, by id
(the project is the deployment's)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.console_core import Api, Json, Token, call, client, run, show
from infra.console_projects import Project, linked


def register(app: typer.Typer) -> None:
    app.command()(redeploy)
    app.command()(cancel)
    app.command()(promote)
    app.command()(rollback)


def redeploy(deployment: str, api: Api = None, token: Token = None, as_json: Json = False
             ) -> None:
    """Build the deployment's commit again, with the project's settings now; prints the
    new deployment's id."""
    def body() -> None:
        with client(api, token) as http:
            made = call(http, "POST", f"/v1/deployments/{deployment}/redeploy")
        show(made, as_json, line=made["id"])
    run(body)


def cancel(deployment: str, api: Api = None, token: Token = None, as_json: Json = False
           ) -> None:
    """Cancel a queued or building deployment."""
    def body() -> None:
        with client(api, token) as http:
            done = call(http, "POST", f"/v1/deployments/{deployment}/cancel")
        show(done, as_json, line=f"{done['id']} {done['status']}")
    run(body)


def promote(deployment: str, api: Api = None, token: Token = None, as_json: Json = False
            ) -> None:
    """Make a READY deployment its project's production, without a rebuild."""
    def body() -> None:
        with client(api, token) as http:
            project = call(http, "GET", f"/v1/deployments/{deployment}")["project_id"]
            done = call(http, "POST", f"/v1/projects/{project}/promote",
                        json={"deployment_id": deployment})
        show(done, as_json, line=done["production_deployment_id"])
    run(body)


def rollback(deployment: Annotated[str | None, typer.Argument(
                 help="an earlier production deployment; default: the one before")] = None,
             project: Project = None, api: Api = None, token: Token = None,
             as_json: Json = False) -> None:
    """Put an earlier production deployment back (of --project, else of the
    deployment's project, else of the linked one)."""
    def body() -> None:
        with client(api, token) as http:
            chosen = project or (call(http, "GET", f"/v1/deployments/{deployment}")[
                "project_id"] if deployment else linked(None))
            done = call(http, "POST", f"/v1/projects/{chosen}/rollback",
                        json={"deployment_id": deployment} if deployment else {})
        show(done, as_json, line=done["production_deployment_id"])
    run(body)
