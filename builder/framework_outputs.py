"""What a preset reads from a project's own config: where Angular and VitePress write
their output, and what the user should know before a framework is built as a static
site (a Next.js app without a static export, a server-rendered React Router app).

Config files are untrusted input: read through ``repo_files`` (bounded, no symlinks)
and only ever matched, never run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from builder.repo_files import dependencies, exists, read_text, script

NEXT_EXPORT_RE = re.compile(r"""output\s*:\s*['"`]export['"`]""")
NEXT_CONFIGS = ("next.config.js", "next.config.mjs", "next.config.ts")
SSR_OFF_RE = re.compile(r"""\bssr\s*:\s*false\b""")
ROUTER_CONFIGS = ("react-router.config.ts", "react-router.config.js", "vite.config.ts",
                  "vite.config.js", "vite.config.mts")
VITEPRESS_BUILD_RE = re.compile(r"vitepress\s+build(?:\s+([\w./-]+))?")
ANGULAR_APPLICATION_BUILDERS = ("@angular-devkit/build-angular:application",
                                "@angular/build:application")


def _angular_project(config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    projects = config.get("projects")
    if not isinstance(projects, dict) or not projects:
        return None
    apps = [(n, p) for n, p in projects.items()
            if isinstance(p, dict) and p.get("projectType", "application") == "application"]
    return apps[0] if apps else None


def angular_output(project: Path) -> str:
    """``dist/<app>/browser`` for the application builder (Angular 17+), else its
    outputPath; ``dist`` when angular.json cannot be read."""
    try:
        config = json.loads(read_text(project, "angular.json", 1 << 20) or "{}")
    except ValueError:
        return "dist"
    found = _angular_project(config) if isinstance(config, dict) else None
    if found is None:
        return "dist"
    name, app = found
    build = app.get("architect", {}).get("build", {})
    options = build.get("options", {}) if isinstance(build, dict) else {}
    path = options.get("outputPath", f"dist/{name}") if isinstance(options, dict) else None
    browser = "browser"
    if isinstance(path, dict):
        browser = path.get("browser", "browser")
        path = path.get("base", f"dist/{name}")
    if not isinstance(path, str) or not isinstance(browser, str):
        return "dist"
    if build.get("builder") in ANGULAR_APPLICATION_BUILDERS and browser:
        return f"{path.strip('/')}/{browser.strip('/')}"
    return path.strip("/")


def vitepress_output(project: Path, package: dict[str, Any]) -> tuple[str, str]:
    """(output, build command) of a VitePress site: its source dir is the argument of
    ``vitepress build`` in the scripts, else wherever ``.vitepress`` is."""
    for name in ("docs:build", "build"):
        found = VITEPRESS_BUILD_RE.search(script(package, name) or "")
        if found:
            source = (found[1] or ".").strip("/")
            break
    else:
        source = "docs" if exists(project, "docs/.vitepress") else "."
    prefix = "" if source in ("", ".") else f"{source}/"
    return f"{prefix}.vitepress/dist", f"vitepress build {source}"


def _next_exports(project: Path) -> bool:
    return any(NEXT_EXPORT_RE.search(read_text(project, name) or "") for name in NEXT_CONFIGS)


def _router_spa(project: Path) -> bool:
    return any(SSR_OFF_RE.search(read_text(project, name) or "") for name in ROUTER_CONFIGS)


def warnings(slug: str, project: Path, package: dict[str, Any]) -> list[str]:
    """What the user should know about building this framework as a static site."""
    if slug == "nextjs" and not _next_exports(project):
        return ["next.config does not set output: 'export': only a static export can be "
                "served (from out/)"]
    if slug == "sveltekit" and "@sveltejs/adapter-static" not in dependencies(package):
        return ["SvelteKit without @sveltejs/adapter-static: only a static build can be "
                "served (from build/)"]
    if slug == "react-router" and not _router_spa(project):
        return ["React Router config does not set ssr: false: only SPA mode can be "
                "served (from build/client)"]
    return []
