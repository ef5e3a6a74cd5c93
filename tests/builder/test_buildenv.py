"""The sandbox's environment: the project's build variables after the allow-list, never
PATH, HOME or a cache location, and never a value on a command line or in the log."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder import sandbox
from builder.buildenv import check_variables, sandbox_setup
from builder.cgroups import Limits
from builder.package_managers import PackageManager
from builder.plan import Plan
from builder.provision import Tool
from builder.workspace import Workspace

UID = 64000
SECRET = "s3cr3t-value-7d1f"


def plan(manager: str | None = "npm", root: str = "", tools: tuple[Tool, ...] = ()) -> Plan:
    return Plan(root, PackageManager(manager) if manager else None, "npm ci", "npm run build",
                None, tools=tools)


def test_valid_names_are_accepted_and_others_refused_by_name_only():
    variables = check_variables({"API_URL": "https://x", "_X1": SECRET, "1BAD": SECRET,
                                 "BAD-NAME": SECRET, "PATH": SECRET, "home": SECRET,
                                 "NPM_CONFIG_CACHE": SECRET, "npm_config_store_dir": SECRET,
                                 "YARN_CACHE_FOLDER": SECRET, "NUL": "a\x00b"})
    assert variables.accepted == {"API_URL": "https://x", "_X1": SECRET}
    lines = variables.describe()
    assert lines[0] == "Build variables: API_URL, _X1"
    assert "Build variable PATH ignored: the builder sets it" in lines
    assert "Build variable '1BAD' ignored: not a valid name" in lines
    assert "Build variable NUL ignored: the value is not usable" in lines
    assert len(lines) == 9 and SECRET not in "\n".join(lines)


def test_the_cache_tools_and_local_bins_are_set_by_the_builder(tmp_path: Path):
    variables = check_variables({"NODE_ENV": "production", "CI": "0"})
    tools = (Tool("node", "18.20.4", tmp_path / "node" / "18.20.4", "x"),
             Tool("pnpm", "9.15.9", tmp_path / "pnpm" / "9.15.9", "y"))
    setup = sandbox_setup(plan("pnpm", "web", tools), variables, tmp_path)
    env = dict(setup.env)
    assert env["PATH"] == ("/opt/buildspace/pnpm/bin:/opt/buildspace/node/bin:"
                           "/workspace/web/node_modules/.bin:/usr/local/bin:/usr/bin:/bin")
    assert env["npm_config_store_dir"] == env["pnpm_config_store_dir"] == "/cache"
    assert env["npm_config_manage_package_manager_versions"] == "false"
    assert (env["NODE_ENV"], env["CI"], env["HOME"]) == ("production", "0", "/home/builder")
    assert setup.binds == ((tmp_path, "/cache"),)
    assert setup.ro_binds == ((tmp_path / "node" / "18.20.4", "/opt/buildspace/node"),
                              (tmp_path / "pnpm" / "9.15.9", "/opt/buildspace/pnpm"))
    assert sandbox_setup(plan(), variables, None).binds == ()


@pytest.fixture
def ws() -> Iterator[Workspace]:
    workspace = Workspace.create(UID, UID)
    workspace.src.mkdir()
    workspace.hand_over()
    yield workspace
    workspace.remove()


def launcher_cmdlines() -> str:
    """Command lines of the sandbox launchers (bwrap, setpriv) running now."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if entry.name.isdigit() and args[0].endswith(("bwrap", "setpriv")):
            found.append(" ".join(args))
    return "\n".join(found)


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox tests run as root")
@pytest.mark.asyncio
async def test_variables_reach_the_sandbox_but_no_host_command_line(ws: Workspace):
    setup = sandbox_setup(plan(), check_variables({"DEPLOY_TOKEN": SECRET, "PATH": "/evil"}),
                          None)
    seen: list[str] = []
    lines: list[str] = []
    os.mkfifo(ws.src / "go")
    os.chown(ws.src / "go", UID, UID)

    async def on_line(stream: str, text: str) -> None:
        """While the sandbox waits on the FIFO, read the launchers' command lines."""
        lines.append(text)
        if text == "ready":
            seen.append(launcher_cmdlines())
            await asyncio.to_thread((ws.src / "go").write_text, "go\n")

    outcome = await sandbox.run(
        ws, 'echo "token=$DEPLOY_TOKEN path=$PATH"; echo ready; cat go', cwd="",
        network=False, limits=Limits(30, 256, 64, 1.0), on_line=on_line, setup=setup)
    assert outcome.ok, lines
    assert lines[0] == f"token={SECRET} path=/workspace/node_modules/.bin:" \
                       "/usr/local/bin:/usr/bin:/bin"
    assert seen and SECRET not in seen[0] and "bwrap" in seen[0]
