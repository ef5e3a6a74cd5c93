"""Framework presets: how each static-site framework is built, where its output is, and
how it is served (the SPA fallback, clean URLs).

A project's framework is detected from its package.json dependencies (and a config
file where that file is distinctive); the ``framework`` build setting overrides the
detection. The first preset that matches wins, so the specific ones come first (a
SvelteKit, Astro or React Router project also depends on Vite). Hugo and MkDocs are
told from their config files, in projects with no package.json.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from builder.framework_outputs import angular_output, vitepress_output
from builder.repo_files import dependencies, exists

VITE_VARIANTS = (("React", ("react", "@vitejs/plugin-react", "@vitejs/plugin-react-swc")),
                 ("Vue", ("vue", "@vitejs/plugin-vue")),
                 ("Svelte", ("svelte", "@sveltejs/vite-plugin-svelte")),
                 ("Solid", ("solid-js", "vite-plugin-solid")),
                 ("Preact", ("preact", "@preact/preset-vite")))
# MkDocs builds in a virtualenv of the build's own HOME, from requirements.txt when the
# project has one; pip's downloads go to the dependency cache.
MKDOCS_VENV = "$HOME/.venv"
MKDOCS_INSTALL = (f"python3 -m venv {MKDOCS_VENV} && {MKDOCS_VENV}/bin/pip install "
                  f"--disable-pip-version-check --progress-bar off ")


class UnknownFramework(ValueError):
    """The framework setting names no preset."""


@dataclass(frozen=True)
class Framework:
    slug: str  # the value of the ``framework`` setting
    name: str  # what the log shows
    packages: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()
    command: str | None = None  # the build when package.json has no such script
    scripts: tuple[str, ...] = ("build",)  # package.json scripts that build the site, in order
    output: str | None = None
    spa: bool = False  # paths without a file serve index.html
    clean_urls: bool = True  # /about serves about.html
    node: bool = True  # False: a generator without package.json (Hugo, MkDocs)

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
              scripts=("generate",), output=".output/public"),
    Framework("gatsby", "Gatsby", ("gatsby",),
              ("gatsby-config.js", "gatsby-config.ts", "gatsby-config.mjs"), "gatsby build",
              output="public"),
    Framework("docusaurus", "Docusaurus", ("@docusaurus/core",),
              ("docusaurus.config.js", "docusaurus.config.ts"), "docusaurus build",
              output="build"),
    Framework("vitepress", "VitePress", ("vitepress",), (), "vitepress build",
              scripts=("docs:build", "build"), output=".vitepress/dist"),
    Framework("astro", "Astro", ("astro",),
              ("astro.config.mjs", "astro.config.ts", "astro.config.js"), "astro build",
              output="dist"),
    Framework("sveltekit", "SvelteKit (static adapter)", ("@sveltejs/kit",), (), "vite build",
              output="build"),
    Framework("react-router", "React Router / Remix (SPA mode)",
              ("@react-router/dev", "@remix-run/dev"),
              ("react-router.config.ts", "react-router.config.js"), "react-router build",
              output="build/client", spa=True),
    Framework("angular", "Angular", ("@angular/core",), ("angular.json",), "ng build",
              output="dist", spa=True),
    Framework("eleventy", "Eleventy", ("@11ty/eleventy",),
              (".eleventy.js", "eleventy.config.js", "eleventy.config.mjs",
               "eleventy.config.cjs"), "eleventy", output="_site"),
    Framework("create-react-app", "Create React App", ("react-scripts",), (),
              "react-scripts build", output="build", spa=True),
    Framework("vite", "Vite", ("vite",), ("vite.config.js", "vite.config.ts", "vite.config.mjs"),
              "vite build", output="dist", spa=True),
)
GENERATORS = (
    Framework("hugo", "Hugo", (), ("hugo.toml", "hugo.yaml", "hugo.json"), "hugo --minify",
              output="public", node=False),
    Framework("mkdocs", "MkDocs", (), ("mkdocs.yml", "mkdocs.yaml"),
              f"{MKDOCS_VENV}/bin/mkdocs build --site-dir site", output="site", node=False),
)
STATIC = Framework("static", "Plain static")
BY_SLUG = {f.slug: f for f in (*PRESETS, *GENERATORS, STATIC)}
# Hugo sites from before hugo.toml have a config.toml beside content/ or layouts/.
HUGO_LEGACY = ("config.toml", "config.yaml")


def preset(slug: str) -> Framework:
    """The preset a ``framework`` setting names."""
    found = BY_SLUG.get(slug.strip().lower())
    if found is None:
        raise UnknownFramework(f"unknown framework {slug!r}: choose one of "
                               f"{', '.join(BY_SLUG)}")
    return found


def detect_framework(project: Path, package: dict[str, Any]) -> Framework | None:
    names = dependencies(package)
    found = next((f for f in PRESETS if f.matches(project, names)), None)
    return found and specialise(found, project, package)


def detect_generator(project: Path) -> Framework | None:
    """Hugo or MkDocs, for a project without package.json."""
    found = next((f for f in GENERATORS if f.matches(project, set())), None)
    if found is None and any(exists(project, c) for c in HUGO_LEGACY) and (
            exists(project, "content") or exists(project, "layouts")):
        found = GENERATORS[0]
    return found


def specialise(framework: Framework, project: Path, package: dict[str, Any]) -> Framework:
    """The preset as this project needs it: Vite's flavour, where Angular and VitePress
    write their output."""
    if framework.slug == "vite":
        names = dependencies(package)
        flavour = next((n for n, pkgs in VITE_VARIANTS if names & set(pkgs)), None)
        return replace(framework, name=f"Vite ({flavour})") if flavour else framework
    if framework.slug == "angular":
        return replace(framework, output=angular_output(project))
    if framework.slug == "vitepress":
        output, command = vitepress_output(project, package)
        return replace(framework, output=output, command=command)
    return framework


def install_command(framework: Framework, project: Path) -> str | None:
    """What installs a generator's own tools (MkDocs from PyPI); Hugo needs none."""
    if framework.slug != "mkdocs":
        return None
    wanted = "-r requirements.txt" if exists(project, "requirements.txt") else "mkdocs"
    return MKDOCS_INSTALL + wanted
