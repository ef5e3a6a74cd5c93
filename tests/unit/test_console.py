"""The ``buildspace`` API commands keep their conventions (``--json``, ``--token``,
``--api`` on every one), and shell completion reaches them through the installed
command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from infra.compose import cli
from infra.console import app

CONVENTIONS = {"--json", "--token", "--api"}


def leaves(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):  # a group (typer's own click)
        for name, sub in command.commands.items():
            yield from leaves(sub, f"{path} {name}".strip())
    else:
        yield path, command


def test_every_command_takes_json_token_and_api():
    found = dict(leaves(typer.main.get_command(app)))
    assert {"env ls", "env add", "env rm", "env pull", "deploy", "ls"} <= set(found)
    for path, command in found.items():
        options = {o for p in command.params for o in p.opts}
        assert options >= CONVENTIONS, f"buildspace {path} lacks {CONVENTIONS - options}"


def complete(words: str, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What bash completion offers after ``words``: the shell's script calls the bare
    command with these variables set."""
    monkeypatch.setenv("_BUILDSPACE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    with pytest.raises(SystemExit) as done:
        cli.main([])
    assert done.value.code == 0
    return capsys.readouterr().out.split()


def test_bash_completion_offers_commands_subcommands_and_options(monkeypatch, capsys):
    script = subprocess.run([sys.executable, "-m", "infra.compose.cli", "--show-completion",
                             "bash"], capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_BUILDSPACE_COMPLETE" in script.stdout
    assert "env" in complete("buildspace e", monkeypatch, capsys)
    assert complete("buildspace env ", monkeypatch, capsys) == ["ls", "add", "rm", "pull"]
    assert "--yes" in complete("buildspace env pull --", monkeypatch, capsys)
