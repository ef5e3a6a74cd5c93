"""Read small files of an untrusted checkout: never through a symlink, never a FIFO or
a device, never more than a limit."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_PACKAGE_JSON = 1 << 20
MAX_SMALL_FILE = 64 * 1024


class RepoFileError(Exception):
    """A file of the checkout cannot be used; the message says why, in words."""


def _read(project: Path, name: str, size: int) -> bytes | None:
    """Up to ``size`` bytes of ``project/name``; None when there is no such file."""
    try:
        fd = os.open(project / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        raise RepoFileError(f"{name} is not a regular file") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise RepoFileError(f"{name} is not a regular file")
        return f.read(size)


def read_bytes(project: Path, name: str, limit: int = MAX_SMALL_FILE) -> bytes | None:
    """The contents of ``project/name`` (at most ``limit`` bytes, or an error)."""
    data = _read(project, name, limit + 1)
    if data is not None and len(data) > limit:
        raise RepoFileError(f"{name} is larger than {_size(limit)}")
    return data


def read_head(project: Path, name: str, size: int = 4096) -> str:
    """The first ``size`` bytes of a file as text; "" when there is none."""
    data = _read(project, name, size)
    return (data or b"").decode("utf-8", errors="replace")


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit >> 10} KiB"


def read_text(project: Path, name: str, limit: int = MAX_SMALL_FILE) -> str | None:
    data = read_bytes(project, name, limit)
    return None if data is None else data.decode("utf-8", errors="replace")


def read_package_json(project: Path) -> dict[str, Any] | None:
    """Parsed package.json, or None when there is none (a plain static site)."""
    data = read_bytes(project, "package.json", MAX_PACKAGE_JSON)
    if data is None:
        return None
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise RepoFileError(f"package.json is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise RepoFileError("package.json must contain a JSON object")
    return parsed


def exists(project: Path, name: str) -> bool:
    """A file or directory of that name (a symlink counts: it is only a marker)."""
    return os.path.lexists(project / name)


def dependencies(package: dict[str, Any]) -> set[str]:
    """Names in dependencies and devDependencies."""
    names: set[str] = set()
    for key in ("dependencies", "devDependencies"):
        value = package.get(key)
        if isinstance(value, dict):
            names |= {k for k in value if isinstance(k, str)}
    return names


def script(package: dict[str, Any], name: str) -> str | None:
    scripts = package.get("scripts")
    value = scripts.get(name) if isinstance(scripts, dict) else None
    return value if isinstance(value, str) else None
