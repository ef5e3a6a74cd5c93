"""``buildspace`` commands that talk to a running platform's API, on typer and rich,
with the conventions of ``vercel`` and ``netlify``: the result on stdout, progress and
errors on stderr, ``--json`` on every command, ``--token`` (or ``BUILDSPACE_TOKEN``)
and ``--api`` (or ``BUILDSPACE_API_URL``), and credentials in the XDG config dir with
mode 0600 (``infra.credentials``). A failure exits non-zero with one line saying why.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from infra import credentials
from infra.console_core import (
    Api,
    Failed,
    Json,
    Token,
    call,
    client,
    note,
    run,
    show,
)
from infra.console_dead_letters import register as register_dead_letters
from infra.console_deploy import register as register_deploy
from infra.console_deployments import register as register_deployments
from infra.console_env import register as register_env
from infra.console_projects import Project, linked_or_none
from infra.console_projects import register as register_projects
from infra.console_replay import register as register_replay
from infra.console_tokens import tokens_app

app = typer.Typer(help="Buildspace: sign in, list and inspect, follow logs, manage tokens.",
                  no_args_is_help=True, add_completion=True)
app.add_typer(tokens_app, name="tokens")
register_dead_letters(app)
register_deploy(app)
register_deployments(app)
register_env(app)
register_projects(app)
register_replay(app)


@app.command()
def login(email: Annotated[str | None, typer.Option(help="sign in with this email")] = None,
          password: Annotated[str | None, typer.Option(help="else asked for")] = None,
          api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Sign in with email and password, or save a token (--token); the credentials go
    to the XDG config dir, readable only by you."""
    def body() -> None:
        base = (api or credentials.DEFAULT_API).rstrip("/")
        secret = token
        if secret is None:
            who = email or typer.prompt("Email", err=True)
            pw = password or typer.prompt("Password", hide_input=True, err=True)
            with httpx.Client(base_url=base, timeout=60) as http:
                secret = call(http, "POST", "/v1/auth/login",
                              json={"email": who, "password": pw})["token"]
        with client(base, secret) as http:
            me = call(http, "GET", "/v1/auth/me")
        path = credentials.save({"api": base, "token": secret})
        note(f"Saved to {path}")
        show(me, as_json, line=me["email"])
    run(body)


@app.command()
def logout(api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Sign out: the saved session is revoked and the credentials removed."""
    def body() -> None:
        if credentials.load().get("token") and not token:
            with client(api, None) as http:  # a saved session ends; a saved token stays
                try:
                    if call(http, "GET", "/v1/auth/me")["token_kind"] == "session":
                        call(http, "POST", "/v1/auth/logout")
                except Failed:
                    pass  # already expired or revoked, or the API is gone: forget it
        credentials.remove()
        show({"signed_out": True}, as_json, line="Signed out")
    run(body)


@app.command()
def whoami(api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Who the saved (or given) token signs in as."""
    def body() -> None:
        with client(api, token) as http:
            me = call(http, "GET", "/v1/auth/me")
        show(me, as_json, line=me["email"])
    run(body)


@app.command("ls")
def list_things(project: Project = None,
                projects: Annotated[bool, typer.Option(
                    "--projects", help="list projects even in a linked directory")] = False,
                api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """The deployments of the project (--project, else the linked one), newest first;
    else, or with --projects, the projects you may read."""
    def body() -> None:
        chosen = None if projects else (project or linked_or_none())
        with client(api, token) as http:
            if chosen:
                found = call(http, "GET", f"/v1/projects/{chosen}/deployments",
                             params={"limit": 100})
                return show(found, as_json, deployments_table(found))
            found = call(http, "GET", "/v1/projects", params={"limit": 500})
        table = Table("name", "url", "latest", "production", "id")
        for p in found:
            table.add_row(p["name"], p["url"], p.get("latest_status") or "-",
                          p.get("production_deployment_id") or "-", p["id"])
        show(found, as_json, table)
    run(body)


def deployments_table(found: list[dict[str, Any]]) -> Table:
    table = Table("id", "status", "target", "branch", "commit", "created", "by")
    for d in found:
        table.add_row(d["id"], d["status"], d.get("target") or "-", d.get("branch") or "-",
                      (d.get("commit_sha") or "-")[:7], d["created_at"][:19],
                      d.get("requested_by") or "-")
    return table


@app.command()
def inspect(deployment: str, api: Api = None, token: Token = None, as_json: Json = False
            ) -> None:
    """A deployment: status, branch, commit, URL, timings."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", f"/v1/deployments/{deployment}")
        table = Table("field", "value", show_header=False)
        for key in ("id", "status", "project_id", "ref", "branch", "commit_sha", "url",
                    "created_at", "ready_at", "failure_reason"):
            if found.get(key) is not None:
                table.add_row(key, str(found[key]))
        show(found, as_json, table)
    run(body)


def sse(http: httpx.Client, path: str, after: int) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    with http.stream("GET", path, params={"after_seq": after}, timeout=None) as answer:
        if answer.status_code >= 400:
            answer.read()
            call(http, "GET", path)  # says why, in one line
        for raw in answer.iter_lines():
            if raw.startswith("event:"):
                event = raw[6:].strip()
            elif raw.startswith("data:"):
                yield event, json.loads(raw[5:])


@app.command()
def logs(deployment: str, follow: Annotated[bool, typer.Option("-f", "--follow",
         help="keep printing new lines until the deployment is final")] = False,
         since: Annotated[str | None, typer.Option(
             help="only lines from then on: a duration back from now (30s, 10m, 2h, 1d) "
                  "or an ISO 8601 time")] = None,
         api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """A deployment's build log; with -f, followed live."""
    def body() -> None:
        cutoff = since_time(since)

        def out(line: dict[str, Any]) -> None:
            if cutoff is None or parse_time(line["timestamp"]) >= cutoff:
                print(json.dumps(line) if as_json else line["line"], flush=True)
        with client(api, token) as http:
            if follow:
                for event, data in sse(http, f"/v1/deployments/{deployment}/logs/stream", 0):
                    if event == "line":
                        out(data)
                    elif event == "end":
                        break
                return
            after = 0
            while True:
                page = call(http, "GET", f"/v1/deployments/{deployment}/logs",
                            params={"after_seq": after, "limit": 5000})
                for line in page["lines"]:
                    out(line)
                if not page["lines"]:
                    return
                after = page["lines"][-1]["seq"]
    run(body)


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def since_time(since: str | None) -> datetime | None:
    """``--since``: ``30s``, ``10m``, ``2h``, ``1d`` back from now, or an ISO time."""
    if since is None:
        return None
    found = re.fullmatch(r"(\d{1,9})([smhd])", since.strip())
    if found:
        seconds = int(found[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        return parse_time(since.strip())
    except ValueError:
        raise Failed(f"--since {since[:40]!r}: give a duration (30s, 10m, 2h, 1d) or an "
                     "ISO 8601 time") from None


def main(argv: list[str]) -> None:
    app(args=argv, prog_name="buildspace")


if __name__ == "__main__":
    main(sys.argv[1:])
