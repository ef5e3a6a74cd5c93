"""The environment and binds of a build's sandbox: the allow-listed base, the project's
build variables, the package manager's cache, and the chosen Node.js first in PATH.

Build variables come after the allow-list, so a project can set ``NODE_ENV`` or
``NODE_OPTIONS``, but never ``PATH``, ``HOME`` or where a cache is. Values are never
logged; refused names are, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.bwrap import HOME, SANDBOX_PATH, Setup, sandbox_env
from builder.cache import INSIDE as CACHE_INSIDE
from builder.detect import Plan
from builder.package_managers import RESERVED_CACHE_VARIABLES

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED = frozenset({"PATH", "HOME"}) | RESERVED_CACHE_VARIABLES
MAX_VALUE = 64 * 1024


@dataclass(frozen=True)
class Variables:
    """The project's build variables that may enter the sandbox, and what was refused."""

    accepted: dict[str, str]
    refused: list[str]

    def describe(self) -> list[str]:
        lines = [f"Build variables: {', '.join(sorted(self.accepted))}"] if self.accepted else []
        return lines + self.refused


def check_variables(env: Mapping[str, str]) -> Variables:
    accepted, refused = {}, []
    for name, value in env.items():
        shown = name if NAME_RE.fullmatch(name) else repr(name[:100])
        if not NAME_RE.fullmatch(name):
            refused.append(f"Build variable {shown} ignored: not a valid name")
        elif name.upper() in RESERVED:
            refused.append(f"Build variable {shown} ignored: the builder sets it")
        elif "\x00" in value or len(value) > MAX_VALUE:
            refused.append(f"Build variable {shown} ignored: the value is not usable")
        else:
            accepted[name] = value
    return Variables(accepted, refused)


def _path(plan: Plan) -> str:
    node_bin = plan.node.install.bin_dir if plan.node and plan.node.install else None
    local_bin = f"/workspace/{plan.root}/node_modules/.bin".replace("//", "/")
    parts = [p for p in (node_bin, local_bin, *SANDBOX_PATH.split(":")) if p]
    return ":".join(dict.fromkeys(parts))


def _node_binds(plan: Plan) -> tuple[tuple[Path, str], ...]:
    """A Node.js outside /usr (``/opt/node/20/bin``) is bound read-only where it is."""
    node_bin = plan.node.install.bin_dir if plan.node and plan.node.install else None
    if node_bin is None or node_bin.startswith("/usr/"):
        return ()
    home = Path(node_bin).parent
    return ((home, str(home)),)


def sandbox_setup(plan: Plan, variables: Variables, cache: Path | None) -> Setup:
    """What every sandboxed step of this build gets."""
    env = sandbox_env() | variables.accepted
    env["PATH"], env["HOME"] = _path(plan), HOME
    binds: tuple[tuple[Path, str], ...] = ()
    if cache is not None and plan.manager is not None:
        env |= plan.manager.cache_env(CACHE_INSIDE)
        binds = ((cache, CACHE_INSIDE),)
    return Setup(env, binds, _node_binds(plan))
