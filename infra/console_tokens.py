"""``buildspace tokens ls | create | revoke``: personal access tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from infra.console_core import Api, Json, Token, call, client, run, show

tokens_app = typer.Typer(help="Personal access tokens.", no_args_is_help=True)


@tokens_app.command("ls")
def tokens_ls(api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Your sessions and tokens, with their last use."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", "/v1/tokens")
        table = Table("id", "name", "kind", "scopes", "expires", "last used")
        for t in found:
            table.add_row(t["id"], t["name"], t["kind"], ",".join(t["scopes"]),
                          t["expires_at"] or "never", t["last_used_at"] or "-")
        show(found, as_json, table)
    run(body)


@tokens_app.command("create")
def tokens_create(name: str, scope: Annotated[list[str], typer.Option(
        "--scope", help="read, deploy, write or admin; repeat for more")],
        project: Annotated[str | None, typer.Option(help="limit it to a project")] = None,
        days: Annotated[str, typer.Option(help="days until it expires, or never")] = "90",
        api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """A personal access token, printed once."""
    def body() -> None:
        expires: int | str = days if days == "never" else int(days) if days.isdigit() else -1
        with client(api, token) as http:
            made = call(http, "POST", "/v1/tokens", json={
                "name": name, "scopes": scope, "project_id": project,
                "expires_in_days": expires})
        show(made, as_json, line=made["token"])
    run(body)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, api: Api = None, token: Token = None, as_json: Json = False
                  ) -> None:
    """Revoke one of your tokens."""
    def body() -> None:
        with client(api, token) as http:
            call(http, "DELETE", f"/v1/tokens/{token_id}")
        show({"revoked": token_id}, as_json, line=f"Revoked {token_id}")
    run(body)
