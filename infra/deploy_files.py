"""Which files of a local directory ``buildspace deploy`` sends, and their sha256 (hashed
in threads): the local side of a deploy, before the API is asked anything.

Skipped while walking: ``.git``, ``node_modules``, dotfiles and dot-directories (except
``.well-known/``), anything that is not a regular file, and what a
``.buildspaceignore`` at the top names (one pattern a line, ``#`` comments, matched with
``fnmatch`` against the relative path and against the file name; ``dir/`` matches a
directory).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SKIPPED_DIRS = frozenset({".git", "node_modules"})
IGNORE_FILE = ".buildspaceignore"
WELL_KNOWN = ".well-known"
CHUNK = 1 << 20
WORKERS = 8  # files hashed at once


class DeployError(Exception):
    """Usage or connection problem: the message says what to do (exit code 2). Raised
    here for a path that is not a directory, by ``infra.deploy_client`` when the API
    cannot be reached or refuses."""


@dataclass(frozen=True)
class LocalFile:
    path: str  # site path, "/"-separated
    source: Path
    size: int
    sha256: str


def _ignore_patterns(root: Path) -> list[str]:
    try:
        text = (root / IGNORE_FILE).read_text()
    except FileNotFoundError:
        return []
    lines = (line.strip() for line in text.splitlines())
    return [line.lstrip("/") for line in lines if line and not line.startswith("#")]


def _ignored(relative: str, is_dir: bool, patterns: list[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        if pattern.endswith("/"):
            if is_dir and (fnmatch.fnmatchcase(relative, pattern[:-1]) or
                           fnmatch.fnmatchcase(name, pattern[:-1])):
                return True
        elif fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _kept_dir(top: str, name: str, patterns: list[str]) -> bool:
    relative = f"{top}/{name}" if top else name
    if name in SKIPPED_DIRS or _ignored(relative, True, patterns):
        return False
    return not name.startswith(".") or name == WELL_KNOWN


def walk(root: Path) -> list[tuple[str, Path, int]]:
    """(site path, file, size) of every file to deploy under ``root``, sorted."""
    if not root.is_dir():
        raise DeployError(f"{root} is not a directory")
    patterns = _ignore_patterns(root)
    found = []
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root).replace(os.sep, "/")
        rel_top = "" if rel_top == "." else rel_top
        dirs[:] = sorted(d for d in dirs if _kept_dir(rel_top, d, patterns))
        for name in files:
            relative = f"{rel_top}/{name}" if rel_top else name
            if name.startswith(".") or _ignored(relative, False, patterns):
                continue
            source = Path(top, name)
            st = os.stat(source)  # a symlink to a file deploys the file
            if stat.S_ISREG(st.st_mode):
                found.append((relative, source, st.st_size))
    return sorted(found)


def _sha256(source: Path) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_files(entries: list[tuple[str, Path, int]], workers: int = WORKERS
               ) -> list[LocalFile]:
    with ThreadPoolExecutor(workers, thread_name_prefix="hash") as pool:
        digests = pool.map(lambda e: _sha256(e[1]), entries)
        return [LocalFile(path, source, size, sha)
                for (path, source, size), sha in zip(entries, digests, strict=True)]
