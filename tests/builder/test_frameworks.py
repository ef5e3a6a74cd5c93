"""Framework presets: detection from package.json and config files, commands, output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.detect import plan_build
from builder.frameworks import PRESETS, detect_framework, preset
from schemas.builds import BuildSettings


def project(root: Path, deps: dict[str, str], scripts: dict[str, str] | None = None,
            **files: str) -> Path:
    package = {"name": "site", "devDependencies": deps, "scripts": scripts or {}}
    (root / "package.json").write_text(json.dumps(package))
    (root / "package-lock.json").write_text("{}")
    for name, text in files.items():
        (root / name.replace("__", ".")).write_text(text)
    return root


# (dependencies, name shown, build without a script, output)
CASES = [
    ({"vite": "7"}, "Vite", "vite build", "dist"),
    ({"react-scripts": "5", "react": "18"}, "Create React App", "react-scripts build", "build"),
    ({"next": "15", "react": "19"}, "Next.js (static export)", "next build", "out"),
    ({"astro": "5", "vite": "7"}, "Astro", "astro build", "dist"),
    ({"@sveltejs/kit": "2", "@sveltejs/adapter-static": "3", "vite": "7"},
     "SvelteKit (static adapter)", "vite build", "build"),
    ({"nuxt": "3"}, "Nuxt (generate)", "nuxt generate", ".output/public"),
    ({"gatsby": "5", "react": "18"}, "Gatsby", "gatsby build", "public"),
    ({"@docusaurus/core": "3", "react": "18"}, "Docusaurus", "docusaurus build", "build"),
]


@pytest.mark.parametrize(("deps", "name", "command", "output"), CASES,
                         ids=[c[1] for c in CASES])
def test_each_preset_is_detected_with_its_command_and_output(tmp_path: Path, deps, name,
                                                            command, output):
    plan = plan_build(project(tmp_path, deps), BuildSettings())
    assert plan.framework is not None and plan.framework.name == name
    assert (plan.build, plan.output) == (command, output)
    assert f"Detected framework: {name}" in plan.describe()


@pytest.mark.parametrize(("deps", "name", "command", "output"), CASES,
                         ids=[c[1] for c in CASES])
def test_a_build_script_runs_through_the_package_manager(tmp_path: Path, deps, name, command,
                                                        output):
    script = "generate" if "generate" in command else "build"
    plan = plan_build(project(tmp_path, deps, {script: command}), BuildSettings())
    assert plan.build == f"npm run {script}"


def test_nuxt_generates_even_when_build_is_the_server_build(tmp_path: Path):
    plan = plan_build(project(tmp_path, {"nuxt": "3"}, {"build": "nuxt build"}),
                      BuildSettings())
    assert plan.build == "nuxt generate"


@pytest.mark.parametrize(("config", "slug"), [
    ("next.config.mjs", "nextjs"), ("nuxt.config.ts", "nuxt"), ("gatsby-config.js", "gatsby"),
    ("docusaurus.config.js", "docusaurus"), ("astro.config.mjs", "astro"),
    ("vite.config.ts", "vite")])
def test_a_config_file_alone_is_enough(tmp_path: Path, config: str, slug: str):
    (tmp_path / config).write_text("export default {}")
    found = detect_framework(tmp_path, {})
    assert found is not None and found.slug == slug


def test_no_known_dependency_means_no_framework(tmp_path: Path):
    plan = plan_build(project(tmp_path, {"left-pad": "1"}, {"build": "node b.js"}),
                      BuildSettings())
    assert plan.framework is None and plan.output is None
    assert "No framework detected" in plan.describe()


def test_next_without_a_static_export_is_warned_about(tmp_path: Path):
    plan = plan_build(project(tmp_path, {"next": "15"}, next__config__js="module.exports = {}"),
                      BuildSettings())
    assert any("output: 'export'" in line for line in plan.describe())
    exported = project(tmp_path, {"next": "15"},
                       next__config__js="module.exports = { output: 'export' }")
    assert not any("output: 'export'" in line
                   for line in plan_build(exported, BuildSettings()).describe())


def test_sveltekit_without_the_static_adapter_is_warned_about(tmp_path: Path):
    plan = plan_build(project(tmp_path, {"@sveltejs/kit": "2"}), BuildSettings())
    assert any("adapter-static" in line for line in plan.describe())


def test_every_preset_can_be_chosen_by_its_setting():
    assert {preset(f.slug).slug for f in PRESETS} == {f.slug for f in PRESETS}
    assert preset(" Vite ").name == "Vite" and preset("static").static
