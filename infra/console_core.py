"""What every ``buildspace`` API command shares: the client signed in with the given or
saved token, one call with its failure in one line, and output as a table, a line or
JSON (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from infra import credentials

# Piped, a table is as wide as it needs (rich would cut it to 80 columns).
out = Console(width=None if sys.stdout.isatty() else 400)


def note(text: str) -> None:
    """A line on stderr (progress, and why a command failed)."""
    print(text, file=sys.stderr, flush=True)

Api = Annotated[str | None, typer.Option("--api", envvar="BUILDSPACE_API_URL",
                                         help="the API's URL")]
Token = Annotated[str | None, typer.Option("--token", envvar="BUILDSPACE_TOKEN",
                                           help="a token (bs_…) instead of the saved one")]
Json = Annotated[bool, typer.Option("--json", help="the answer as JSON")]


class Failed(Exception):
    """One line for stderr; the command exits 1."""


def client(api: str | None, token: str | None) -> httpx.Client:
    saved = credentials.load()
    base = (api or saved.get("api") or credentials.DEFAULT_API).rstrip("/")
    secret = token or (saved.get("token") if base == saved.get("api") else None)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=base, headers=headers, timeout=60)


def call(http: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    try:
        answer = http.request(method, path, **kw)
    except httpx.TransportError as exc:
        raise Failed(f"cannot reach the API at {http.base_url}: {exc}") from None
    if answer.status_code == 401:
        raise Failed("not signed in, or the token is expired or revoked: run "
                     "`buildspace login` or pass --token")
    if answer.status_code >= 400:
        try:
            message = answer.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = answer.text[:200]
        raise Failed(f"{method} {path}: {answer.status_code} {message}")
    return answer.json() if answer.content else None


def show(value: Any, as_json: bool, table: Table | None = None, line: str | None = None
         ) -> None:
    if as_json:
        print(json.dumps(value, indent=2, sort_keys=True))
    elif table is not None:
        out.print(table)
    elif line is not None:
        print(line)


def run(fn: Any) -> Any:
    """Each command's body: a ``Failed`` is one line on stderr and exit code 1."""
    try:
        return fn()
    except Failed as exc:
        note(f"buildspace: {exc}")
        raise typer.Exit(1) from None
