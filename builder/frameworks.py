"""Framework presets: how each static-site framework is built and where its output is.

A project's framework is detected from its package.json dependencies (and a config
file where that file is distinctive); the ``framework`` build setting overrides the
detection. The first preset that matches wins, so the specific ones come first (a
SvelteKit or Astro project also depends on Vite).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.repo_files import dependencies, exists, read_text

NEXT_EXPORT_RE = re.compile(r"""output\s*:\s*['"`]export['"`]""")


class UnknownFramework(ValueError):
    """The framework setting names no preset."""


@dataclass(frozen=True)
class Framework:
    slug: str  # the value of the ``framework`` setting
    name: str  # what the log shows
    packages: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    command: str | None = None  # the build when package.json has no such script
    script: str = "build"  # the package.json script that builds the site
    output: str | None = None

    @property
    def static(self) -> bool:
        return self.slug == "static"

    def matches(self, project: Path, names: set[str]) -> bool:
        return bool(names & set(self.packages)) or any(exists(project, c) for c in self.configs)


PRESETS = (
    Framework("nextjs", "Next.js (static export)", ("next",),
              ("next.config.js", "next.config.mjs", "next.config.ts"), "next build",
              output="out"),
    Framework("nuxt", "Nuxt (generate)", ("nuxt", "nuxt3"),
              ("nuxt.config.ts", "nuxt.config.js", "nuxt.config.mjs"), "nuxt generate",
              script="generate", output=".output/public"),
    Framework("gatsby", "Gatsby", ("gatsby",),
              ("gatsby-config.js", "gatsby-config.ts", "gatsby-config.mjs"), "gatsby build",
              output="public"),
    Framework("docusaurus", "Docusaurus", ("@docusaurus/core",),
              ("docusaurus.config.js", "docusaurus.config.ts"), "docusaurus build",
              output="build"),
    Framework("astro", "Astro", ("astro",),
              ("astro.config.mjs", "astro.config.ts", "astro.config.js"), "astro build",
              output="dist"),
    Framework("sveltekit", "SvelteKit (static adapter)", ("@sveltejs/kit",), (), "vite build",
              output="build"),
    Framework("create-react-app", "Create React App", ("react-scripts",), (),
              "react-scripts build", output="build"),
    Framework("vite", "Vite", ("vite",), ("vite.config.js", "vite.config.ts", "vite.config.mjs"),
              "vite build", output="dist"),
)
STATIC = Framework("static", "Plain static")
BY_SLUG = {f.slug: f for f in (*PRESETS, STATIC)}


def preset(slug: str) -> Framework:
    """The preset a ``framework`` setting names."""
    found = BY_SLUG.get(slug.strip().lower())
    if found is None:
        raise UnknownFramework(f"unknown framework {slug!r}: choose one of "
                               f"{', '.join(BY_SLUG)}")
    return found


def detect_framework(project: Path, package: dict[str, Any]) -> Framework | None:
    names = dependencies(package)
    return next((f for f in PRESETS if f.matches(project, names)), None)


def _next_exports(project: Path) -> bool:
    for name in PRESETS[0].configs:
        text = read_text(project, name)
        if text is not None and NEXT_EXPORT_RE.search(text):
            return True
    return False


def warnings(framework: Framework, project: Path, package: dict[str, Any]) -> list[str]:
    """What the user should know about building this framework as a static site."""
    if framework.slug == "nextjs" and not _next_exports(project):
        return ["next.config does not set output: 'export': only a static export can be "
                "served (from out/)"]
    if framework.slug == "sveltekit" and "@sveltejs/adapter-static" not in dependencies(
            package):
        return ["SvelteKit without @sveltejs/adapter-static: only a static build can be "
                "served (from build/)"]
    return []
