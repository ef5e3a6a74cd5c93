"""``buildspace deploy [PATH] [--prod | --preview] [--prebuilt | --build]``: the typer
command over ``infra.deploy_cli``. The project is ``--project``, else ``--name``, else
the one ``buildspace link`` saved here, else the directory's name (created when there is
none). Signed in with ``--token``, ``BUILDSPACE_TOKEN`` or the saved credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra import credentials
from infra.console_core import Api, Json, Token
from infra.console_projects import linked_or_none
from infra.deploy_cli import DeployOptions, main, note


def deploy(
    path: Annotated[Path, typer.Argument(help="the directory (default: this one)")] = Path("."),
    project: Annotated[str | None, typer.Option(help="the project's id")] = None,
    name: Annotated[str | None, typer.Option(help="the project's name; created when there "
                                                  "is none")] = None,
    build: Annotated[bool, typer.Option("--build", help="build on the platform "
                                                        "(package.json scripts)")] = False,
    prebuilt: Annotated[bool, typer.Option("--prebuilt", help="serve the files as they are "
                                                              "(the default)")] = False,
    prod: Annotated[bool, typer.Option("--prod", help="production (the default)")] = False,
    preview: Annotated[bool, typer.Option("--preview", help="a preview: only its own "
                                                            "URL")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="do not wait for READY")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for READY")] = 1800.0,
    api: Api = None, token: Token = None, as_json: Json = False,
) -> None:
    """Deploy a directory: only new files are uploaded; prints the URL."""
    for one, other in ((build, prebuilt), (prod, preview), (project, name)):
        if one and other:
            note("buildspace deploy: --build/--prebuilt, --prod/--preview and "
                 "--project/--name each take one of the two")
            raise typer.Exit(2)
    saved = credentials.load()
    base = (api or saved.get("api") or credentials.DEFAULT_API).rstrip("/")
    secret = token or (saved.get("token") if base == saved.get("api") else None)
    options = DeployOptions(
        path=path, project=project or (None if name else linked_or_none()), name=name,
        build=build, target="preview" if preview else "production", no_wait=no_wait,
        timeout=timeout, as_json=as_json)
    raise typer.Exit(main(options, base, secret))


def register(app: typer.Typer) -> None:
    app.command()(deploy)
