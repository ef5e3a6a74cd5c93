"""Reuse a build's output when nothing that decides it changed, as Turborepo's task
cache does: a redeploy of the same files, settings and variables takes milliseconds.

The key hashes the commit's tree (every file of the checkout, so package.json and the
lockfile too), the plan (root, package manager, install and build commands, output
directory, framework, Node.js version) and the build variables. The cache is used only
for a build without network — a build that can fetch may give another output from the
same inputs — and when the deployment did not ask to build again (``build_cache:
false``). The newest ``KEEP`` outputs of a project are kept.

What is stored is the output directory as ``collect`` accepted it (regular files and
directories only), copied by trusted code after the sandbox is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from builder.modules_cache import copy_tree
from builder.plan import Plan

KEY_VERSION = 2
KEEP = 3


def output_key(tree: str | None, plan: Plan, variables: dict[str, str]) -> str | None:
    """The key of the build's inputs, or None when there is nothing to reuse."""
    if not tree or not plan.build:
        return None
    parts = [KEY_VERSION, tree, plan.root, plan.manager.kind if plan.manager else None,
             plan.install, plan.build, plan.output,
             plan.framework.slug if plan.framework else None, plan.toolchain_key,
             sorted(variables.items())]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass
class OutputCache:
    """``cache_dir/<project>/output``: one ``<key>/`` per kept output, holding ``tree/``
    (the files) and ``output`` (the output directory, relative to the project root)."""

    path: Path

    def restore(self, key: str, project: Path, uid: int, gid: int) -> str | None:
        """Copy the output kept under ``key`` into ``project``; the output directory's
        relative path, or None when there is none (or the checkout already has one)."""
        entry = self.path / key
        try:
            relative = (entry / "output").read_text()
        except OSError:
            return None
        target = project / relative if relative else project
        if not relative or target.exists() or not (entry / "tree").is_dir():
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_tree(entry / "tree", target, uid, gid, 1 << 62)
        os.utime(entry)  # recently used: kept longest
        return relative

    def save(self, key: str, project: Path, output: Path, limit_mb: int) -> bool:
        """Keep a copy of ``output`` (inside ``project``); False when it cannot be."""
        relative = output.relative_to(project).as_posix()
        if relative in ("", "."):
            return False  # a site served from its root is not a build output
        self.path.mkdir(parents=True, exist_ok=True)
        fresh = self.path / f"new-{uuid.uuid4().hex[:8]}"
        fresh.mkdir()
        try:
            if copy_tree(output, fresh / "tree", os.getuid(), os.getgid(), limit_mb << 20) is None:
                return False
            (fresh / "output").write_text(relative)
            shutil.rmtree(self.path / key, ignore_errors=True)
            os.rename(fresh, self.path / key)
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
        self._evict()
        return True

    def _evict(self) -> None:
        entries = sorted((p for p in self.path.iterdir() if not p.name.startswith("new-")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)
