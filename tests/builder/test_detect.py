"""Deciding how to build a checkout, from its files and the project's settings."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from builder.detect import DetectError, Plan, find_output, plan_build
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
    assert (plan.install, plan.build, plan.output) == ("npm ci", "npm run build", None)
    assert plan.describe() == ["Detected npm (package-lock.json)"]


def test_a_shrinkwrap_also_means_npm_ci(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "npm-shrinkwrap.json": "{}"})
    assert plan_build(tmp_path, NO_SETTINGS).install == "npm ci"


def test_without_a_lockfile_npm_install_is_used(tmp_path: Path):
    write(tmp_path, {"package.json": package()})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert (plan.install, plan.lockfile) == ("npm install", None)
    assert plan.describe() == ["Detected npm (package.json, no lockfile)"]


def test_no_build_script_means_no_build(tmp_path: Path):
    write(tmp_path, {"package.json": package(build=None)})
    plan = plan_build(tmp_path, NO_SETTINGS)
    assert plan.build is None
    assert "skipping the build" in plan.describe()[-1]


@pytest.mark.parametrize(("lockfile", "manager"), [("yarn.lock", "yarn"),
                                                   ("pnpm-lock.yaml", "pnpm")])
def test_yarn_and_pnpm_lockfiles_pick_their_manager(tmp_path: Path, lockfile: str, manager: str):
    write(tmp_path, {"package.json": package(), lockfile: ""})
    if shutil.which(manager, path="/usr/local/bin:/usr/bin:/bin"):
        plan = plan_build(tmp_path, NO_SETTINGS)
        assert (plan.install or "").startswith(f"{manager} install")
        assert plan.build == f"{manager} run build"
    else:
        with pytest.raises(DetectError, match=f"{lockfile} found, but {manager} is not"):
            plan_build(tmp_path, NO_SETTINGS)


def test_an_install_command_setting_needs_no_package_manager(tmp_path: Path):
    write(tmp_path, {"package.json": package(), "yarn.lock": ""})
    plan = plan_build(tmp_path, BuildSettings(install_command="npm install --legacy-peer-deps"))
    assert (plan.package_manager, plan.install) == ("yarn", "npm install --legacy-peer-deps")


def test_settings_win_over_detection(tmp_path: Path):
    write(tmp_path, {"web/package.json": package(), "web/package-lock.json": "{}"})
    settings = BuildSettings(root_directory="web", build_command="npm run export",
                             output_directory="site")
    plan = plan_build(tmp_path, settings)
    assert plan == Plan("web", "npm", "package-lock.json", "npm ci", "npm run export", "site")
    assert plan.describe() == ["Detected npm (package-lock.json) in web/"]


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
