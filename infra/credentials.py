"""The CLI's saved sign-in: ``$XDG_CONFIG_HOME/buildspace/credentials.json`` (else
``~/.config/buildspace/``), holding the API's URL and a token, readable only by its
owner (0600, in a 0700 directory), written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_API = "http://127.0.0.1:9000"


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "buildspace" / "credentials.json"


def load() -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def save(values: dict[str, Any]) -> Path:
    target = path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(values, file)
    os.chmod(temp, 0o600)
    os.replace(temp, target)
    return target


def remove() -> None:
    path().unlink(missing_ok=True)
