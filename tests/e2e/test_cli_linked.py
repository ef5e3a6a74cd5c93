"""The ``buildspace`` command in a linked directory: ``ls`` lists the project's
deployments, ``rollback`` needs no project, ``logs --since`` filters by time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_deploy import create, deploy
from tests.support.platform import Platform


def run_in(here: Path, platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"XDG_CONFIG_HOME": str(here / ".config"),
                        "BUILDSPACE_API_URL": platform.api,
                        "BUILDSPACE_TOKEN": platform.token()}
    return subprocess.run([sys.executable, "-m", "infra.compose.cli", *args], cwd=here,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_linked_directory_lists_rolls_back_and_filters_logs(platform: Platform,
                                                               git_server, tmp_path):
    project = create(platform, "cli-linked-moves", git_server.make_repo(
        "cli-linked-moves", {"index.html": "<p>one</p>"}))
    first = deploy(platform, project["id"])
    assert platform.wait_status(first["id"], {"READY", "FAILED"})["status"] == "READY"
    second = deploy(platform, project["id"])
    assert platform.wait_status(second["id"], {"READY", "FAILED"})["status"] == "READY"
    here = tmp_path / "site"
    here.mkdir()
    assert run_in(here, platform, "link", "cli-linked-moves").returncode == 0

    listed = json.loads(run_in(here, platform, "ls", "--json").stdout)
    assert [d["id"] for d in listed] == [second["id"], first["id"]]
    table = run_in(here, platform, "ls").stdout
    assert second["id"] in table and "READY" in table
    everything = json.loads(run_in(here, platform, "ls", "--projects", "--json").stdout)
    assert project["id"] in {p["id"] for p in everything}

    back = run_in(here, platform, "rollback")
    assert back.returncode == 0 and back.stdout.strip() == first["id"], back.stderr

    every = run_in(here, platform, "logs", first["id"], "--since", "1d").stdout.splitlines()
    assert len(every) > 3
    assert run_in(here, platform, "logs", first["id"], "--since",
                  "2999-01-01T00:00:00Z").stdout == ""
    bad = run_in(here, platform, "logs", first["id"], "--since", "yesterday")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr
