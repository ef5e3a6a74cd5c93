"""``buildspace replay [--projection NAME]``: rebuild the read models from the events
topic into fresh tables and swap them in, while the platform keeps answering. For the
instance owner. The API runs it (it knows where PostgreSQL and Kafka are) and streams
its progress, shown here as a bar on stderr; the summary goes to stdout. Ctrl-C stops
it, and nothing changes unless the swap was done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, get_args

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infra.console_core import Api, Failed, Json, Token, client, run, show
from schemas.replays import ProjectionName

PROJECTIONS: tuple[str, ...] = get_args(ProjectionName)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(projection: Annotated[str | None, typer.Option(
               help=f"only this read model: {', '.join(PROJECTIONS)}")] = None,
           api: Api = None, token: Token = None, as_json: Json = False) -> None:
    """Rebuild the read models (or one) from the first event and swap them in."""
    def body() -> None:
        if projection is not None and projection not in PROJECTIONS:
            raise Failed(f"--projection {projection!r}: one of {', '.join(PROJECTIONS)}")
        with client(api, token) as http:
            summary = follow(lines(http, {"projection": projection}))
        show(summary, as_json, summary_table(summary))
        if not as_json:
            print(f"{summary['events_read']} events read ({summary['malformed']} malformed, "
                  f"{summary['duplicates']} appended twice). Swapped in "
                  f"{summary['swap_seconds']:.2f} s; {summary['elapsed_seconds']:.1f} s in all")
    run(body)


def lines(http: httpx.Client, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The replay's NDJSON lines, as it runs."""
    try:
        with http.stream("POST", "/v1/replays", json=request, timeout=None) as answer:
            if answer.status_code >= 400:
                answer.read()
                raise Failed(refusal(answer))
            for raw in answer.iter_lines():
                if raw.strip():
                    yield json.loads(raw)
    except httpx.TransportError as exc:
        raise Failed(f"the replay's answer broke off ({exc}); unless it had swapped, "
                     "nothing changed") from None


def refusal(answer: httpx.Response) -> str:
    if answer.status_code == 401:
        return "not signed in, or the token is expired or revoked: run `buildspace login`"
    try:
        message = answer.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = answer.text[:200]
    return f"POST /v1/replays: {answer.status_code} {message}"


def follow(found: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Show the progress on stderr; the ``swapped`` summary, or ``Failed``."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("events"), TimeElapsedColumn(), console=Console(stderr=True))
    with bar:
        task = bar.add_task("Replaying", total=None)
        for line in found:
            kind = line.get("type")
            if kind == "started":
                bar.update(task, description=f"Replaying {', '.join(line['projections'])}",
                           total=line["events"])
            elif kind == "progress":
                bar.update(task, completed=line["events_read"], total=line["events_total"],
                           description=f"{line['phase'].capitalize()}")
            elif kind == "swapped":
                bar.update(task, completed=line["events_read"], total=line["events_read"],
                           description="Swapped")
                return line
            elif kind == "failed":
                raise Failed(f"the replay failed, nothing changed: {line['message']}")
    raise Failed("the replay's answer ended without a summary; unless it had swapped, "
                 "nothing changed")


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table("projection", "events applied")
    for name in summary["projections"]:
        table.add_row(name, str(summary["applied"].get(name, 0)))
    return table
