"""Which Node.js a build asks for: the project's ``node_version`` setting, else the
repository's ``.nvmrc``, ``.node-version`` or ``engines.node``. ``builder.provision``
matches the request against the releases in the registry; the ranges it may be written
in are read by ``schemas.node_ranges``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from builder.repo_files import read_text
from schemas.node_ranges import MAX_REQUEST, Version

SETTING = "the project settings"  # the source of a request made by the node_version setting


def parse_version(output: str) -> Version | None:
    """``v20.20.2`` (what ``node --version`` prints) -> (20, 20, 2)."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", output.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return line
    return ""


def requested_node(project: Path, package: dict[str, Any] | None,
                   setting: str | None = None) -> tuple[str, str] | None:
    """(where, what) the project asks for: the ``node_version`` setting, else .nvmrc,
    else .node-version, else engines.node; None leaves it to the default (LTS) line."""
    if setting is not None and setting.strip():
        return SETTING, setting.strip()[:MAX_REQUEST]
    for name in (".nvmrc", ".node-version"):
        text = read_text(project, name)
        if text is not None and _first_line(text):
            return name, _first_line(text)[:MAX_REQUEST]
    engines = (package or {}).get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(wanted, str) and wanted.strip():
        return "engines.node", wanted.strip()[:MAX_REQUEST]
    return None
