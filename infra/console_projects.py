"""``buildspace link | open | domains … | teams …``: the project of this directory, its
domains, and your teams.

``link`` writes ``.buildspace/project.json`` here; commands that act on a project take
``--project``, else that file's. ``teams switch`` remembers a team: ``buildspace
deploy`` makes new projects there."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infra import credentials
from infra.console_core import Api, Failed, Json, Token, call, client, run, show

LINK = Path(".buildspace") / "project.json"
Project = Annotated[str | None, typer.Option("--project", help="the project's id (default: "
                                              "the one `buildspace link` saved here)")]
domains_app = typer.Typer(help="A project's custom domains.", no_args_is_help=True)
teams_app = typer.Typer(help="Your teams.", no_args_is_help=True)


def linked(project: str | None) -> str:
    if project:
        return project
    try:
        found: str = json.loads(LINK.read_text())["project_id"]
    except (OSError, ValueError, KeyError):
        raise Failed("no project: pass --project, or run `buildspace link` here") from None
    return found


def linked_or_none() -> str | None:
    """The project ``buildspace link`` saved here, if any."""
    try:
        return linked(None)
    except Failed:
        return None


def register(app: typer.Typer) -> None:
    app.command()(link)
    app.command("open")(open_site)
    app.add_typer(domains_app, name="domains")
    app.add_typer(teams_app, name="teams")


def link(name: Annotated[str, typer.Argument(help="the project's name or id")],
         api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Link this directory to a project: later commands here act on it."""
    def body() -> None:
        with client(api, token) as http:
            projects = call(http, "GET", "/v1/projects", params={"limit": 5000})
        found = next((p for p in projects if name in (p["id"], p["name"])), None)
        if found is None:
            raise Failed(f"no project named {name!r} that you may read")
        LINK.parent.mkdir(exist_ok=True)
        LINK.write_text(json.dumps({"project_id": found["id"], "name": found["name"]}))
        show(found, as_json, line=f"Linked to {found['name']} ({found['id']})")
    run(body)


def open_site(project: Project = None, api: Api = None, token: Token = None,
              as_json: Json = False) -> None:
    """Open the project's production URL in the browser (the URL is printed too)."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", f"/v1/projects/{linked(project)}")
        webbrowser.open(found["url"])
        show({"url": found["url"]}, as_json, line=found["url"])
    run(body)


@domains_app.command("ls")
def domains_ls(project: Project = None, api: Api = None, token: Token = None,
               as_json: Json = False) -> None:
    """The project's domains, and the TXT record each needs."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", f"/v1/projects/{linked(project)}/domains")
        table = Table("hostname", "status", "TXT name", "TXT value")
        for d in found:
            table.add_row(d["hostname"], d["status"], d["verification"]["name"],
                          d["verification"]["value"])
        show(found, as_json, table)
    run(body)


@domains_app.command("add")
def domains_add(hostname: str, project: Project = None, api: Api = None,
                token: Token = None, as_json: Json = False) -> None:
    """Add a domain; prints the TXT record to create before `verify`."""
    def body() -> None:
        with client(api, token) as http:
            made = call(http, "POST", f"/v1/projects/{linked(project)}/domains",
                        json={"hostname": hostname})
        txt = made["verification"]
        show(made, as_json, line=f"{made['status']}: TXT {txt['name']} {txt['value']}")
    run(body)


@domains_app.command("verify")
def domains_verify(hostname: str, project: Project = None, api: Api = None,
                   token: Token = None, as_json: Json = False) -> None:
    """Check the domain's TXT record now."""
    def body() -> None:
        with client(api, token) as http:
            done = call(http, "POST",
                        f"/v1/projects/{linked(project)}/domains/{hostname}/verify")
        show(done, as_json, line=done["status"])
    run(body)


@domains_app.command("rm")
def domains_rm(hostname: str, project: Project = None, api: Api = None,
               token: Token = None, as_json: Json = False) -> None:
    """Remove a domain; it is served no more."""
    def body() -> None:
        with client(api, token) as http:
            call(http, "DELETE", f"/v1/projects/{linked(project)}/domains/{hostname}")
        show({"removed": hostname}, as_json, line=f"Removed {hostname}")
    run(body)


@teams_app.command("ls")
def teams_ls(api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Your teams and your role in each; * marks the one `teams switch` chose."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", "/v1/teams")
        chosen = credentials.load().get("team_id")
        table = Table("", "name", "role", "id")
        for t in found:
            table.add_row("*" if t["id"] == chosen else "", t["name"], t["role"], t["id"])
        show(found, as_json, table)
    run(body)


@teams_app.command("switch")
def teams_switch(team: str, api: Api = None, token: Token = None, as_json: Json = False
                 ) -> None:
    """Remember a team (by name or id) as the current one."""
    def body() -> None:
        with client(api, token) as http:
            found = next((t for t in call(http, "GET", "/v1/teams")
                          if team in (t["id"], t["name"])), None)
        if found is None:
            raise Failed(f"you are not in a team named {team!r}")
        credentials.save(credentials.load() | {"team_id": found["id"]})
        show(found, as_json, line=f"Switched to {found['name']}")
    run(body)
