"""The environment and binds of a build's sandbox: the allow-listed base, the project's
build variables, the package manager's cache, and the provisioned tools (Node.js and the
package manager, ``builder.provision``) mounted read-only and first in PATH.

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
from builder.package_managers import RESERVED_CACHE_VARIABLES
from builder.plan import Plan

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


# The tools are the ones provisioned for this build: no package manager switches itself
# to another version (pnpm 10's manage-package-manager-versions, corepack's strict mode)
# and none asks home (a build variable may still say otherwise).
TOOL_ENV = {"COREPACK_ENABLE_STRICT": "0", "COREPACK_ENABLE_AUTO_PIN": "0",
            "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
            "YARN_ENABLE_TELEMETRY": "0", "YARN_ENABLE_GLOBAL_CACHE": "true",
            "DO_NOT_TRACK": "1", "NEXT_TELEMETRY_DISABLED": "1", "ASTRO_TELEMETRY_DISABLED": "1",
            "NUXT_TELEMETRY_DISABLED": "1", "GATSBY_TELEMETRY_DISABLED": "1"}


# npm warns about any npm_config_* it does not know: this one only goes to pnpm.
PNPM_ENV = {"npm_config_manage_package_manager_versions": "false"}


def _path(plan: Plan) -> str:
    tools = [t.bin_inside for t in plan.tools if t.name != "node"]
    node = plan.tool("node")
    local = [f"/workspace/{root}/node_modules/.bin".replace("//", "/")
             for root in dict.fromkeys((plan.root, plan.install_root))]
    parts = [*tools, *([node.bin_inside] if node else []), *local, *SANDBOX_PATH.split(":")]
    return ":".join(dict.fromkeys(parts))


def sandbox_setup(plan: Plan, variables: Variables, cache: Path | None) -> Setup:
    """What every sandboxed step of this build gets."""
    env = sandbox_env() | (TOOL_ENV if plan.tools else {}) | (
        PNPM_ENV if plan.manager and plan.manager.kind == "pnpm" else {}) | variables.accepted
    env["PATH"], env["HOME"] = _path(plan), HOME
    binds: tuple[tuple[Path, str], ...] = ()
    if cache is not None and plan.manager is not None:
        env |= plan.manager.cache_env(CACHE_INSIDE)
        binds = ((cache, CACHE_INSIDE),)
    tools = tuple((t.home, t.inside) for t in plan.tools)
    return Setup(env, binds, tools)
