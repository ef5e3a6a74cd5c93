"""The fixture corpus (``tests/fixtures/corpus``): real apps made with each framework's
own scaffolder, with real lockfiles, described in ``corpus.json``. Used by the corpus
tests (``tests/e2e/test_corpus.py``) and the corpus benchmark (``bench/corpus.py``).

``CI_APPS`` are the ones small enough for every CI run (one per package manager, and the
generators); the rest run under ``pytest -m corpus``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
CI_APPS = frozenset({"vite-react-pnpm9", "vite-vue-yarn1", "vite-solid-berry-pnp",
                     "vite-react-bun", "eleventy-npm", "hugo-site", "mkdocs-site",
                     "monorepo-pnpm-turbo"})
# Same-origin references in built HTML: scripts, stylesheets, preloads, icons, images.
LINK_RE = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"'#?]+)""",
                     re.I)
SKIPPED_DIRS = frozenset({"node_modules", ".git"})


@dataclass(frozen=True)
class App:
    name: str
    framework: str
    package_manager: str | None
    root_directory: str | None
    pages: dict[str, str]
    deep_link: str | None
    spa: bool

    @property
    def path(self) -> Path:
        return CORPUS / self.name

    def files(self) -> dict[str, bytes]:
        """The app's committed files, as a git repository gets them."""
        found = {}
        for path in sorted(self.path.rglob("*")):
            relative = path.relative_to(self.path)
            if path.is_file() and not SKIPPED_DIRS & set(relative.parts):
                found[relative.as_posix()] = path.read_bytes()
        return found

    def settings(self) -> dict[str, Any]:
        return {"root_directory": self.root_directory} if self.root_directory else {}


def apps() -> list[App]:
    entries = json.loads((CORPUS / "corpus.json").read_text())
    return [App(e["name"], e["framework"], e.get("package_manager"), e.get("root_directory"),
                e["pages"], e.get("deep_link"), bool(e.get("spa"))) for e in entries]


def linked_assets(page_url: str, html: str) -> set[str]:
    """The same-origin paths a page's HTML loads (absolute URLs elsewhere are left out)."""
    origin = urlsplit(page_url)
    found = set()
    for ref in LINK_RE.findall(html):
        target = urlsplit(urljoin(page_url, ref.strip()))
        if (target.scheme, target.netloc) == (origin.scheme, origin.netloc) and target.path:
            found.add(target.path)
    return found
