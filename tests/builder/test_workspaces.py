"""Monorepos: a root directory inside a pnpm, yarn or npm workspace installs at the
workspace's root and builds its one package, through Turborepo or Nx when they are
there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.detect import plan_build
from builder.workspaces import find_workspace, includes
from schemas.builds import BuildSettings


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def web(name: str = "web") -> str:
    return json.dumps({"name": name, "scripts": {"build": "vite build"},
                       "devDependencies": {"vite": "7", "react": "19"}})


PNPM_WORKSPACE = "packages:\n  - 'apps/*'\n  - \"packages/*\"  # shared\n  - '!apps/old'\n"


@pytest.mark.parametrize(("globs", "path", "taken"), [
    (["apps/*"], "apps/web", True),
    (["apps/*"], "apps/web/nested", False),
    (["apps/**"], "apps/web/nested", True),
    (["./apps/*/"], "apps/web", True),
    (["apps/*", "!apps/old"], "apps/old", False),
    (["packages/*"], "apps/web", False),
    (["apps/w?b"], "apps/web", True),
])
def test_workspace_globs(globs: list[str], path: str, taken: bool):
    assert includes(globs, path) is taken


def test_a_pnpm_workspace_package_installs_at_the_root(tmp_path: Path):
    write(tmp_path, {"pnpm-workspace.yaml": PNPM_WORKSPACE, "pnpm-lock.yaml":
                     "lockfileVersion: '9.0'\n", "package.json": json.dumps(
                         {"name": "mono", "private": True, "packageManager": "pnpm@9.15.9"}),
                     "apps/web/package.json": web(), "apps/web/.nvmrc": "22\n"})
    plan = plan_build(tmp_path, BuildSettings(root_directory="apps/web"))
    assert plan.workspace is not None and plan.workspace.runner is None
    assert (plan.install_root, plan.build_root) == ("", "apps/web")
    assert (plan.lockfile, plan.install) == ("pnpm-lock.yaml",
                                             "pnpm install --frozen-lockfile --prefer-offline")
    assert (plan.build, plan.output) == ("pnpm run build", "dist")
    assert plan.manager_request is not None and plan.manager_request.wanted == "9.15.9"
    assert plan.node_request == (".nvmrc", "22")
    assert plan.describe()[:2] == [
        "Root directory: apps/web/",
        "Workspace: apps/web/ is a package of the workspace at the repository's top: "
        "installing there"]


def test_turborepo_builds_the_package_from_the_root(tmp_path: Path):
    write(tmp_path, {"pnpm-workspace.yaml": PNPM_WORKSPACE, "turbo.json": "{}",
                     "package.json": json.dumps({"name": "mono", "engines": {"node": ">=20"}}),
                     "pnpm-lock.yaml": "lockfileVersion: '9.0'\n", "apps/web/package.json": web()})
    plan = plan_build(tmp_path, BuildSettings(root_directory="apps/web"))
    assert (plan.build, plan.build_root) == ("pnpm exec turbo run build --filter=web", "")
    assert plan.output == "dist" and plan.node_request == ("engines.node", ">=20")
    assert plan.describe()[1].endswith("installing there, built through Turborepo")


def test_nx_in_an_npm_workspace(tmp_path: Path):
    write(tmp_path, {"package.json": json.dumps({"workspaces": ["apps/*"]}), "nx.json": "{}",
                     "package-lock.json": "{}", "apps/site/package.json": web("@acme/site")})
    plan = plan_build(tmp_path, BuildSettings(root_directory="apps/site"))
    assert plan.build == "npx --no-install nx run @acme/site:build"
    assert plan.install == "npm ci --prefer-offline" and plan.install_root == ""


def test_yarn_workspaces_as_an_object_and_a_nested_root(tmp_path: Path):
    write(tmp_path, {"repo/package.json": json.dumps({"workspaces": {"packages": ["docs"]}}),
                     "repo/yarn.lock": "# yarn lockfile v1\n", "repo/docs/package.json": web()})
    found = find_workspace(tmp_path, "repo/docs")
    assert found is not None and found.root == "repo"
    plan = plan_build(tmp_path, BuildSettings(root_directory="repo/docs"))
    assert (plan.install_root, plan.package_manager, plan.build) == ("repo", "yarn",
                                                                     "yarn run build")


def test_a_settings_build_command_wins_over_the_runner(tmp_path: Path):
    write(tmp_path, {"pnpm-workspace.yaml": PNPM_WORKSPACE, "turbo.json": "{}",
                     "apps/web/package.json": web()})
    plan = plan_build(tmp_path, BuildSettings(root_directory="apps/web",
                                              build_command="pnpm run build:web"))
    assert (plan.build, plan.build_root) == ("pnpm run build:web", "apps/web")


@pytest.mark.parametrize("name", ["web; rm -rf /", "$(id)", "a b", "", "x" * 300])
def test_a_package_name_that_is_not_plain_never_reaches_a_command(tmp_path: Path, name: str):
    write(tmp_path, {"pnpm-workspace.yaml": PNPM_WORKSPACE, "turbo.json": "{}",
                     "apps/web/package.json": web(name)})
    plan = plan_build(tmp_path, BuildSettings(root_directory="apps/web"))
    assert (plan.build, plan.build_root) == ("pnpm run build", "apps/web")


def test_a_package_outside_the_globs_is_on_its_own(tmp_path: Path):
    write(tmp_path, {"pnpm-workspace.yaml": PNPM_WORKSPACE, "tools/site/package.json": web()})
    plan = plan_build(tmp_path, BuildSettings(root_directory="tools/site"))
    assert plan.workspace is None and plan.install_root == "tools/site"
    assert plan_build(tmp_path, BuildSettings()).workspace is None  # the root itself
