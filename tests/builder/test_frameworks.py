"""Framework presets: detection from package.json and config files, commands, output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.detect import DetectError, plan_build
from builder.frameworks import PRESETS, detect_framework, preset
from schemas.builds import BuildPlan, BuildSettings


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
    ({"vitepress": "1", "vue": "3"}, "VitePress", "vitepress build .", ".vitepress/dist"),
    ({"@11ty/eleventy": "3"}, "Eleventy", "eleventy", "_site"),
    ({"@angular/core": "19", "@angular/cli": "19"}, "Angular", "ng build", "dist"),
    ({"@react-router/dev": "7", "vite": "6"}, "React Router / Remix (SPA mode)",
     "react-router build", "build/client"),
    ({"vite": "7", "react": "19", "@vitejs/plugin-react": "4"}, "Vite (React)", "vite build",
     "dist"),
    ({"vite": "7", "vue": "3"}, "Vite (Vue)", "vite build", "dist"),
    ({"vite": "7", "svelte": "5"}, "Vite (Svelte)", "vite build", "dist"),
    ({"vite": "7", "solid-js": "1"}, "Vite (Solid)", "vite build", "dist"),
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
    script = "generate" if "generate" in command else \
        "docs:build" if "vitepress" in command else "build"
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


def test_angular_builds_into_its_browser_folder(tmp_path: Path):
    build = {"builder": "@angular/build:application", "options": {"outputPath": "dist/shop"}}
    config: dict[str, Any] = {"projects": {"shop": {"projectType": "application",
                                                    "architect": {"build": build}}}}
    project(tmp_path, {"@angular/core": "19"}, angular__json=json.dumps(config))
    assert plan_build(tmp_path, BuildSettings()).output == "dist/shop/browser"
    config["projects"]["shop"]["architect"]["build"] = {
        "builder": "@angular-devkit/build-angular:browser", "options": {"outputPath": "www"}}
    project(tmp_path, {"@angular/core": "16"}, angular__json=json.dumps(config))
    assert plan_build(tmp_path, BuildSettings()).output == "www"
    project(tmp_path, {"@angular/core": "19"}, angular__json="{not json")
    assert plan_build(tmp_path, BuildSettings()).output == "dist"


def test_vitepress_builds_where_its_docs_are(tmp_path: Path):
    project(tmp_path, {"vitepress": "1"}, {"docs:build": "vitepress build docs"})
    plan = plan_build(tmp_path, BuildSettings())
    assert (plan.build, plan.output) == ("npm run docs:build", "docs/.vitepress/dist")
    project(tmp_path, {"vitepress": "1"}, {"build": "vitepress build docs"})
    assert plan_build(tmp_path, BuildSettings()).build == "npm run build"
    (tmp_path / "docs" / ".vitepress").mkdir(parents=True)
    project(tmp_path, {"vitepress": "1"})
    plan = plan_build(tmp_path, BuildSettings())
    assert (plan.build, plan.output) == ("vitepress build docs", "docs/.vitepress/dist")


def test_react_router_without_spa_mode_is_warned_about(tmp_path: Path):
    project(tmp_path, {"@react-router/dev": "7"})
    config = tmp_path / "react-router.config.ts"
    config.write_text("export default { ssr: true }")
    assert any("ssr: false" in line for line in plan_build(tmp_path, BuildSettings()).describe())
    config.write_text("export default { ssr: false } satisfies Config;")
    assert not any("ssr: false" in line
                   for line in plan_build(tmp_path, BuildSettings()).describe())


def test_hugo_and_mkdocs_are_told_from_their_config_without_package_json(tmp_path: Path):
    (tmp_path / "hugo.toml").write_text("title = 'x'\n")
    plan = plan_build(tmp_path, BuildSettings())
    assert plan.framework is not None and plan.framework.slug == "hugo"
    assert (plan.install, plan.build, plan.output) == (None, "hugo --minify", "public")
    assert not plan.needs_node and plan.describe() == ["Detected framework: Hugo"]
    docs = tmp_path / "docs-site"
    docs.mkdir()
    (docs / "mkdocs.yml").write_text("site_name: x\n")
    plan = plan_build(tmp_path, BuildSettings(root_directory="docs-site"))
    assert plan.install is not None and plan.install.endswith("pip install "
                                                             "--disable-pip-version-check "
                                                             "--progress-bar off mkdocs")
    assert (plan.build, plan.output) == ("$HOME/.venv/bin/mkdocs build --site-dir site", "site")
    (docs / "requirements.txt").write_text("mkdocs==1.6.1\n")
    plan = plan_build(tmp_path, BuildSettings(root_directory="docs-site"))
    assert plan.install is not None and plan.install.endswith("-r requirements.txt")


def test_a_legacy_hugo_config_needs_its_content_folder(tmp_path: Path):
    (tmp_path / "config.toml").write_text("baseURL = '/'\n")
    assert plan_build(tmp_path, BuildSettings()).framework is None
    (tmp_path / "content").mkdir()
    found = plan_build(tmp_path, BuildSettings()).framework
    assert found is not None and found.slug == "hugo"


def test_a_node_preset_without_package_json_is_refused(tmp_path: Path):
    with pytest.raises(DetectError, match="the framework setting is 'vite', but ./ has no "
                                          "package.json"):
        plan_build(tmp_path, BuildSettings(framework="vite"))
    plan = plan_build(tmp_path, BuildSettings(framework="mkdocs"))
    assert plan.framework is not None and plan.framework.name == "MkDocs"
    assert "Framework: MkDocs (from the project settings)" in plan.describe()


def test_the_plan_summary_names_the_preset_and_how_it_is_served(tmp_path: Path):
    project(tmp_path, {"@angular/core": "19"})
    summary = plan_build(tmp_path, BuildSettings()).summary()
    assert BuildPlan(**summary) == BuildPlan(
        framework="angular", framework_name="Angular", spa_fallback=True, clean_urls=True,
        output_directory="dist")
