"""``buildspace env ls | add | rm | pull``: a project's build variables (``--project``,
else the linked one), as ``vercel env`` and ``netlify env`` manage them.

Values stay out of shell history (``add NAME`` reads the value from stdin) and out of
the output, except where asked for: ``pull`` writes them to a file only its owner may
read, or prints them with ``--json``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from infra.console_core import Api, Failed, Json, Token, call, client, run, show
from infra.console_projects import Project, linked

env_app = typer.Typer(help="A project's build variables.", no_args_is_help=True)
BARE = re.compile(r"[A-Za-z0-9_./:@%+,=-]*")


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")


def dotenv_line(name: str, value: str) -> str:
    """``NAME=value`` as dotenv parsers (python-dotenv, Node's dotenv, Docker Compose)
    read it back: bare when it is plain, in single quotes (no escapes to get wrong; a
    shell reads it too) when that suffices, else in double quotes with ``\\``, ``"``
    and line breaks escaped. python-dotenv expands ``${…}`` in any of them."""
    if BARE.fullmatch(value):
        return f"{name}={value}"
    if not any(c in value for c in "'\\\n\r"):
        return f"{name}='{value}'"
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r"))
    return f'{name}="{escaped}"'


def read_value(name: str) -> str:
    """The value from stdin: asked for, hidden, on a terminal; else read to the end."""
    if sys.stdin.isatty():
        return str(typer.prompt(f"Value of {name}", hide_input=True, err=True))
    return sys.stdin.read()


def write_private(path: Path, text: str) -> None:
    """Written whole, readable only by its owner, whatever the file had before."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@env_app.command("ls")
def env_ls(project: Project = None, api: Api = None, token: Token = None,
           as_json: Json = False) -> None:
    """The variables' names; values are never shown."""
    def body() -> None:
        with client(api, token) as http:
            found = call(http, "GET", f"/v1/projects/{linked(project)}/env")
        table = Table("name", "value")
        for name, masked in found["vars"].items():
            table.add_row(name, masked)
        show(found, as_json, table)
    run(body)


@env_app.command("add")
def env_add(name: str, value: Annotated[str | None, typer.Argument(
        help="the value; omitted or -: read from stdin, out of your shell history")] = None,
        project: Project = None, api: Api = None, token: Token = None,
        as_json: Json = False) -> None:
    """Set a variable (added, or its value replaced); the others are kept."""
    def body() -> None:
        given = read_value(name) if value in (None, "-") else value
        with client(api, token) as http:
            done = call(http, "PATCH", f"/v1/projects/{linked(project)}/env",
                        json={"set": {name: given}})
        show(done, as_json, line=f"Set {name}")
    run(body)


@env_app.command("rm")
def env_rm(name: str, project: Project = None, api: Api = None, token: Token = None,
           as_json: Json = False) -> None:
    """Remove a variable; the others are kept."""
    def body() -> None:
        with client(api, token) as http:
            done = call(http, "PATCH", f"/v1/projects/{linked(project)}/env",
                        json={"unset": [name]})
        show(done, as_json, line=f"Removed {name}")
    run(body)


@env_app.command("pull")
def env_pull(file: Annotated[Path, typer.Argument(help="where to write them")] = Path(".env"),
             yes: Annotated[bool, typer.Option("--yes", "-y",
                                               help="overwrite the file")] = False,
             project: Project = None, api: Api = None, token: Token = None,
             as_json: Json = False) -> None:
    """Write the variables, values included, to a dotenv file only you may read.

    FILE (default .env) gets NAME=value lines, mode 0600; with --json they are printed
    instead. Needs the admin role in the project's team."""
    def body() -> None:
        if not as_json and file.exists() and not yes:
            raise Failed(f"{file} exists: pass --yes to overwrite it")
        with client(api, token) as http:
            found = call(http, "GET", f"/v1/projects/{linked(project)}/env/values")
        if as_json:
            return show(found, True)
        lines = [dotenv_line(name, value) for name, value in found["vars"].items()]
        try:
            write_private(file, "".join(f"{line}\n" for line in lines))
        except OSError as exc:
            raise Failed(f"cannot write {file}: {exc.strerror}") from None
        print(f"Wrote {len(lines)} variables to {file}")
    run(body)
