"""Deciding how to build a checkout, from its files and the project's settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from builder.detect import DetectError, find_output, plan_build
from schemas.builds import BuildSettings

NO_SETTINGS = BuildSettings()


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def package(build: str | None = "vite build") -> str:
    return json.dumps({"name": "x", "scripts": {"build": build} if build else {}})


def test_a_package_lock_means_npm_ci_and_the_build_script(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "package-lock.json": "{}"})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert (plan.package_manager, plan.lockfile) == ("npm", "package-lock.json")
    assert (plan.install, plan.build, plan.output) == ("npm ci --prefer-offline",
                                                       "npm run build", None)
    assert plan.describe() == ["No framework detected", "Package manager: npm (package-lock.json)"]
    assert plan.node_request is None and plan.needs_node


def test_a_shrinkwrap_also_means_npm_ci(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "npm-shrinkwrap.json": "{}"})
    assert plan_build(tmp_path, NO_SETTINGS).install == "npm ci --prefer-offline"


def test_without_a_lockfile_npm_install_is_used(tmp_path: Path):
    write(tmp_path, {"package.json": package()})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert (plan.install, plan.lockfile) == ("npm install --prefer-offline", None)
    assert "Package manager: npm (no lockfile)" in plan.describe()


def test_the_detected_framework_and_node_request_are_planned(tmp_path: Path):
    write(tmp_path, {"package.json": json.dumps({
        "scripts": {"build": "vite build"}, "devDependencies": {"vite": "^7"},
        "engines": {"node": ">=18"}}), "package-lock.json": '{"lockfileVersion": 3}'})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert plan.describe() == ["Detected framework: Vite",
                               "Package manager: npm (package-lock.json)"]
    assert plan.node_request == ("engines.node", ">=18")
    assert plan.manager_request is not None and plan.manager_request.reason == \
        "package-lock.json lockfileVersion 3: npm 10 or 11"
    assert (plan.build, plan.output) == ("npm run build", "dist")


def test_an_nvmrc_is_the_node_request(tmp_path: Path):
    write(tmp_path, {"package.json": package(), ".nvmrc": "18\n"})
    assert plan_build(tmp_path, NO_SETTINGS).node_request == (".nvmrc", "18")


def test_the_node_version_setting_overrides_the_repositorys_files(tmp_path: Path):
    """Over the member's and the workspace root's .nvmrc, and for a site without
    package.json too."""
    write(tmp_path, {"package.json": json.dumps({"workspaces": ["apps/*"]}), ".nvmrc": "18\n",
                     "apps/web/package.json": package(), "apps/web/.node-version": "20\n",
                     "docs/index.html": "<p>hi</p>", "docs/.nvmrc": "20\n"})
    web = BuildSettings(root_directory="apps/web")
    assert plan_build(tmp_path, web).node_request == (".node-version", "20")
    (tmp_path / "apps/web/.node-version").unlink()
    assert plan_build(tmp_path, web).node_request == (".nvmrc", "18")
    chosen = ("the project settings", "22.x")
    for root in ("", "apps/web", "docs"):
        settings = BuildSettings(root_directory=root, node_version="22.x")
        assert plan_build(tmp_path, settings).node_request == chosen


def test_no_build_script_means_no_build(tmp_path: Path):
    write(tmp_path, {"package.json": package(build=None)})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert plan.build is None
    assert "skipping the build" in plan.describe()[-1]


@pytest.mark.parametrize(("lockfile", "manager"), [("yarn.lock", "yarn"),
                                                   ("pnpm-lock.yaml", "pnpm")])
def test_yarn_and_pnpm_lockfiles_pick_their_manager(tmp_path: Path, lockfile: str, manager: str):
    write(tmp_path, {"package.json": package(), lockfile: ""})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert (plan.install or "").startswith(f"{manager} install")
    assert plan.build == f"{manager} run build"
    assert plan.manager_request is not None and plan.manager_request.tool == manager


def test_an_install_command_setting_needs_no_package_manager(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "yarn.lock": ""})
    plan = plan_build(tmp_path, BuildSettings(install_command="npm install --legacy-peer-deps"))
    assert (plan.package_manager, plan.install) == ("yarn", "npm install --legacy-peer-deps")


def test_settings_win_over_detection(tmp_path: Path):
    write(tmp_path, {"web/package.json": package(), "web/package-lock.json": "{}"})
    settings = BuildSettings(root_directory="web", build_command="npm run export",
                             output_directory="site")
    plan = plan_build(tmp_path, settings)
    assert (plan.root, plan.package_manager, plan.lockfile) == ("web", "npm", "package-lock.json")
    assert (plan.install, plan.build, plan.output) == ("npm ci --prefer-offline",
                                                       "npm run export", "site")
    assert plan.describe()[:2] == ["Root directory: web/", "No framework detected"]


def test_settings_override_the_framework_preset(tmp_path: Path):
    write(tmp_path, {"package.json": json.dumps({"devDependencies": {"vite": "7"}})})
    settings = BuildSettings(framework="astro", install_command="npm i",
                             build_command="npm run site", output_directory="public")
    plan = plan_build(tmp_path, settings)
    assert plan.framework is not None and plan.framework.slug == "astro"
    assert (plan.install, plan.build, plan.output) == ("npm i", "npm run site", "public")
    assert "Framework: Astro (from the project settings)" in plan.describe()
    with pytest.raises(DetectError, match="unknown framework 'rails'"):
        plan_build(tmp_path, BuildSettings(framework="rails"))


def test_the_static_preset_serves_the_files_without_installing(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "index.html": "x"})
    plan = plan_build(tmp_path, BuildSettings(framework="static"))
    assert plan.static and (plan.install, plan.build) == (None, None)
    assert find_output(tmp_path, plan) == tmp_path.resolve()


def test_without_package_json_the_root_is_served_as_it_is(tmp_path: Path):
    write(tmp_path, {"index.html": "<p>hi</p>"})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert plan.static and plan.install is None and plan.build is None
    assert find_output(tmp_path, plan) == tmp_path.resolve()
    assert plan.describe() == ["No package.json: serving the files as they are"]


def test_the_first_existing_output_candidate_is_used(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "public/favicon.ico": "",
                     "build/index.html": ""})
    assert find_output(tmp_path, plan_build(tmp_path, NO_SETTINGS)).name == "build"
    write(tmp_path, {"dist/index.html": ""})
    assert find_output(tmp_path, plan_build(tmp_path, NO_SETTINGS)).name == "dist"


def test_a_missing_output_directory_is_a_clear_failure(tmp_path: Path):
    write(tmp_path, {"package.json": package()})
    with pytest.raises(DetectError, match="none of dist/, build/, out/, public/"):
        find_output(tmp_path, plan_build(tmp_path, NO_SETTINGS))
    plan = plan_build(tmp_path, BuildSettings(output_directory="site"))
    with pytest.raises(DetectError, match="none of site/"):
        find_output(tmp_path, plan)


@pytest.mark.parametrize("root", ["../x", "/etc", "a/../../b", "a\\b"])
def test_paths_outside_the_checkout_are_refused(tmp_path: Path, root: str):
    with pytest.raises(DetectError, match="relative path inside the repository"):
        plan_build(tmp_path, BuildSettings(root_directory=root))
    with pytest.raises(DetectError, match="relative path inside the repository"):
        plan_build(tmp_path, BuildSettings(output_directory=root))


def test_a_root_directory_symlinked_out_of_the_checkout_is_refused(tmp_path: Path):
    (tmp_path / "repo").mkdir()
    os.symlink("/etc", tmp_path / "repo" / "web")
    with pytest.raises(DetectError, match="leads outside the repository"):
        plan_build(tmp_path / "repo", BuildSettings(root_directory="web"))


def test_a_symlinked_package_json_is_not_followed(tmp_path: Path):
    os.symlink("/etc/passwd", tmp_path / "package.json")
    with pytest.raises(DetectError, match="not a regular file"):
        plan_build(tmp_path, NO_SETTINGS)


@pytest.mark.parametrize(("text", "reason"), [("{", "not valid JSON"),
                                              ("[1]", "must contain a JSON object")])
def test_a_broken_package_json_is_a_clear_failure(tmp_path: Path, text: str, reason: str):
    write(tmp_path, {"package.json": text})
    with pytest.raises(DetectError, match=reason):
        plan_build(tmp_path, NO_SETTINGS)


def test_a_missing_root_directory_is_a_clear_failure(tmp_path: Path):
    with pytest.raises(DetectError, match="root directory 'app' does not exist"):
        plan_build(tmp_path, BuildSettings(root_directory="app/"))
