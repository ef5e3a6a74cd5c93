"""Package manager detection: lockfiles, the packageManager field, yarn classic and
berry, install commands and where each keeps its cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.package_managers import (
    PackageManager,
    ToolMissing,
    detect_package_manager,
    require_tool,
)


def detect(root: Path, package: dict[str, Any] | None = None, **files: str) -> PackageManager:
    for name, text in files.items():
        (root / name.replace("__", ".").replace("_", "-")).write_text(text)
    return detect_package_manager(root, package or {})


@pytest.mark.parametrize(("lockfile", "kind", "install"), [
    ("package-lock.json", "npm", "npm ci --prefer-offline"),
    ("npm-shrinkwrap.json", "npm", "npm ci --prefer-offline"),
    ("yarn.lock", "yarn", "yarn install --frozen-lockfile --prefer-offline"),
    ("pnpm-lock.yaml", "pnpm", "pnpm install --frozen-lockfile --prefer-offline"),
    ("bun.lock", "bun", "bun install --frozen-lockfile"),
    ("bun.lockb", "bun", "bun install --frozen-lockfile"),
])
def test_the_lockfile_picks_the_manager(tmp_path: Path, lockfile: str, kind: str, install: str):
    (tmp_path / lockfile).write_text("# yarn lockfile v1\n")
    manager = detect_package_manager(tmp_path, {})
    assert (manager.kind, manager.lockfile, manager.install) == (kind, lockfile, install)
    assert manager.describe().endswith(f"({lockfile})")


def test_no_lockfile_means_npm_install(tmp_path: Path):
    manager = detect(tmp_path)
    assert (manager.kind, manager.install) == ("npm", "npm install --prefer-offline")
    assert manager.describe() == "Package manager: npm (no lockfile)"


@pytest.mark.parametrize("marker", [{"package": {"packageManager": "yarn@4.1.0"}},
                                    {".yarnrc.yml": "nodeLinker: node-modules\n"},
                                    {"yarn.lock": "__metadata:\n  version: 8\n"}])
def test_yarn_berry_is_told_from_classic(tmp_path: Path, marker: dict[str, Any]):
    package = marker.pop("package", {})
    for name, text in marker.items():
        (tmp_path / name).write_text(text)
    if not (tmp_path / "yarn.lock").exists():
        (tmp_path / "yarn.lock").write_text("")
    manager = detect_package_manager(tmp_path, package)
    assert (manager.kind, manager.tool, manager.install) == (
        "yarn-berry", "yarn", "yarn install --immutable")
    assert manager.describe().startswith("Package manager: yarn berry (yarn.lock")


def test_yarn_classic_from_its_packagemanager_field(tmp_path: Path):
    manager = detect(tmp_path, {"packageManager": "yarn@1.22.22"}, yarn__lock="")
    assert manager.kind == "yarn" and manager.run("build") == "yarn run build"
    assert manager.describe() == \
        "Package manager: yarn classic (yarn.lock, packageManager yarn@1.22.22)"


def test_the_packagemanager_field_wins_over_another_managers_lockfile(tmp_path: Path):
    manager = detect(tmp_path, {"packageManager": "pnpm@9.1.0+sha512.abc"},
                     package_lock__json="{}")
    assert (manager.kind, manager.lockfile) == ("pnpm", None)
    assert manager.install == "pnpm install --prefer-offline"


def test_an_unknown_packagemanager_field_is_ignored(tmp_path: Path):
    assert detect(tmp_path, {"packageManager": "deno@2"}).kind == "npm"
    assert detect(tmp_path, {"packageManager": ["npm"]}).kind == "npm"


@pytest.mark.parametrize(("kind", "variables"), [
    ("npm", {"npm_config_cache"}), ("yarn", {"YARN_CACHE_FOLDER"}),
    ("yarn-berry", {"YARN_GLOBAL_FOLDER"}),
    ("pnpm", {"npm_config_store_dir", "pnpm_config_store_dir"}),
    ("bun", {"BUN_INSTALL_CACHE_DIR"})])
def test_each_manager_is_pointed_at_the_cache(kind: str, variables: set[str]):
    env = PackageManager(kind).cache_env("/cache")
    assert set(env) == variables and set(env.values()) == {"/cache"}


def test_a_missing_manager_is_named_in_words(tmp_path: Path):
    with pytest.raises(ToolMissing, match="pnpm-lock.yaml found, but pnpm is not installed"):
        require_tool(PackageManager("pnpm", "pnpm-lock.yaml"), path=str(tmp_path))
    with pytest.raises(ToolMissing, match="package.json asks for bun@1.1.0, but bun is not"):
        require_tool(PackageManager("bun", None, "bun@1.1.0"), path=str(tmp_path))
    require_tool(PackageManager("npm"))  # npm comes with node
