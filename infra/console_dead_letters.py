"""``buildspace dead-letters ls | redrive``: the messages the agents refused (malformed),
with why, and sending one again once its cause is fixed. For the instance owner only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from infra.console_core import Api, Json, Token, call, client, run, show

dead_letters_app = typer.Typer(help="Messages the agents refused, and redriving them.",
                               no_args_is_help=True)
REASON_WIDTH = 100


def register(app: typer.Typer) -> None:
    app.add_typer(dead_letters_app, name="dead-letters")


def letters_table(found: list[dict[str, Any]]) -> Table:
    table = Table("id", "topic@offset", "reason", "when", "state")
    for d in found:
        where = d["topic"] if d["offset"] is None else f"{d['topic']}@{d['offset']}"
        reason = d["reason"].splitlines()[0] if d["reason"] else "-"
        table.add_row(d["id"], where, reason[:REASON_WIDTH], d["dead_lettered_at"][:19],
                      d["state"])
    return table


@dead_letters_app.command("ls")
def dead_letters_ls(topic: Annotated[str | None, typer.Option(
                        help="only the dead letters of this topic")] = None,
                    every: Annotated[bool, typer.Option(
                        "--all", help="redriven ones too (default: pending only)")] = False,
                    api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Dead letters, newest first: where each was, why it was refused, when."""
    def body() -> None:
        params: dict[str, Any] = {"state": "all" if every else "pending", "limit": 200}
        if topic:
            params["topic"] = topic
        with client(api, token) as http:
            found = call(http, "GET", "/v1/dead-letters", params=params)
        show(found, as_json, letters_table(found))
    run(body)


@dead_letters_app.command("redrive")
def dead_letters_redrive(letter_id: Annotated[str, typer.Argument(metavar="ID")],
                         api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Append a dead letter's original message to its topic again (once)."""
    def body() -> None:
        with client(api, token) as http:
            done = call(http, "POST", f"/v1/dead-letters/{quote(letter_id, safe='')}/redrive")
        landed = "" if done["redriven_offset"] is None else f" (offset {done['redriven_offset']})"
        show(done, as_json, line=f"Redriven {done['id']} to {done['topic']}{landed}")
    run(body)
