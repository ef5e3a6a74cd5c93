"""The tools a build runs with: the Node.js and the package manager version a project
asks for, resolved against the npm registry and installed once per version into the
host's tool cache (``builder.tool_cache``), then mounted read-only into the sandbox at
``/opt/buildspace/<tool>``, so no build can change another's tools.

Node.js comes from the project's ``node_version`` setting, else ``.nvmrc``,
``.node-version`` or ``engines.node`` (see ``builder.node_versions``); the default is
the current LTS line (``node_default_version``). A request nothing satisfies fails the
build in words. When the registry cannot be reached, the versions already in the tool
cache are used.

    python -m builder.provision    # fill the tool cache with the default versions
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from builder.manager_versions import DEFAULTS, ManagerRequest
from builder.node_versions import SETTING, parse_version
from builder.registry import RegistryError, Release, newest, releases
from builder.tool_cache import PACKAGES, ToolCache
from infra.kafka_jars import cache_root
from infra.settings import Settings
from schemas.node_ranges import RangeError, Version, parse_range

log = logging.getLogger("buildspace.builder")
TOOLS_INSIDE = "/opt/buildspace"
SYSTEM_TOOL_CACHE = Path("/var/cache/buildspace/tools")
LTS_ALIASES = frozenset({"lts/*", "lts", "lts/-0"})
NEWEST_ALIASES = frozenset({"node", "latest", "current", "stable", "*"})


class ProvisionError(Exception):
    """A tool cannot be provided; the message is what the user sees."""


@dataclass(frozen=True)
class Tool:
    """One tool version in the host's tool cache, and why it was chosen."""

    name: str  # node, npm, pnpm, yarn, yarn-berry, bun
    version: str
    home: Path  # the version's directory on the host
    reason: str

    @property
    def inside(self) -> str:
        """Where the sandbox sees it (read-only)."""
        return f"{TOOLS_INSIDE}/{self.name}"

    @property
    def bin_inside(self) -> str:
        return f"{self.inside}/bin"

    @property
    def line(self) -> str:
        shown = {"node": "Node.js", "yarn": "yarn classic", "yarn-berry": "yarn berry"}
        return f"{shown.get(self.name, self.name)} {self.version} ({self.reason})"


def tool_cache_root(settings: Settings) -> Path:
    """``tool_cache_dir``/tools; by default ~/.cache/buildspace/tools, or, for root (whose
    home the sandbox user cannot enter), /var/cache/buildspace/tools."""
    if settings.tool_cache_dir is not None:
        return settings.tool_cache_dir / "tools"
    if os.geteuid() == 0 and not os.environ.get("BUILDSPACE_TOOL_CACHE_DIR"):
        return SYSTEM_TOOL_CACHE
    return cache_root() / "tools"


def check_reachable(path: Path) -> None:
    """Every directory down to ``path`` must let the sandbox user pass (o+x), or bwrap,
    which runs as that user, cannot mount the tools."""
    if os.geteuid() != 0:
        return
    for parent in (path, *path.parents):
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            raise ProvisionError(f"the tool cache {path} is inside {parent}, which the "
                                 f"sandbox user cannot enter: set tool_cache_dir elsewhere")


def _key(release: Release) -> Version:
    return release.key


class Toolchain:
    """Resolves and installs tool versions for builds (blocking: run it in a thread)."""

    def __init__(self, cache: ToolCache, registry: str, default_node: str) -> None:
        self.cache, self.registry, self.default_node = cache, registry, default_node

    @classmethod
    def from_settings(cls, settings: Settings) -> Toolchain:
        root = tool_cache_root(settings)
        root.mkdir(parents=True, exist_ok=True, mode=0o755)
        check_reachable(root)
        return cls(ToolCache(root), settings.npm_registry, settings.node_default_version)

    def available(self, tool: str) -> tuple[list[Release], str | None]:
        """The releases to choose from, and a note when only the cache could be read."""
        try:
            return releases(PACKAGES[tool], self.registry), None
        except RegistryError as exc:
            cached = [Release(PACKAGES[tool], v, "", "", None) for v in self.cache.installed(tool)]
            if not cached:
                raise ProvisionError(f"cannot fetch {PACKAGES[tool]}: {exc}") from None
            log.warning("registry unavailable for %s: %s", tool, exc)
            return cached, f"the registry is unavailable ({exc}); from the tool cache"

    def install(self, tool: str, release: Release, reason: str) -> Tool:
        try:
            home = self.cache.ensure(tool, release)
        except (RegistryError, OSError) as exc:
            raise ProvisionError(f"cannot install {tool} {release.version}: {exc}") from None
        return Tool(tool, release.version, home, reason)

    def node(self, request: tuple[str, str] | None) -> Tool:
        found, note = self.available("node")
        release, reason = choose_node(found, request, self.default_node)
        return self.install("node", release, f"{reason}; {note}" if note else reason)

    def manager(self, request: ManagerRequest, node: Version) -> Tool:
        found, note = self.available(request.tool)
        release = newest(found, request.wanted, node) or newest(found, request.wanted)
        if release is None or (request.exact and release.version != request.wanted):
            raise ProvisionError(f"{request.shown} {request.wanted} ({request.reason}) is not "
                                 f"in the registry {self.registry}")
        return self.install(request.tool, release,
                            f"{request.reason}; {note}" if note else request.reason)


def _newest_where(found: list[Release], wanted: str) -> Release | None:
    test = parse_range(wanted)
    matching = [r for r in found if test(r.key)]
    return max(matching, key=_key) if matching else None


def _wants(source: str, wanted: str) -> str:
    """Why: ``.nvmrc wants 20``, or ``20.x from the project settings``."""
    return f"{wanted} from {source}" if source == SETTING else f"{source} wants {wanted}"


def choose_node(found: list[Release], request: tuple[str, str] | None,
                default: str) -> tuple[Release, str]:
    """The Node.js release for ``(source, range)``: the default LTS line when it
    satisfies the range, else the newest release that does."""
    lts = _newest_where(found, default)
    if lts is None:
        raise ProvisionError(f"no Node.js {default} release (the default line) is available")
    if request is None:
        return lts, f"the default: the current LTS line, {default}"
    source, wanted = request
    alias = wanted.strip().lower()
    if alias in LTS_ALIASES:
        return lts, f"{_wants(source, wanted)}: the current LTS line, {default}"
    if alias in NEWEST_ALIASES:
        return max(found, key=_key), _wants(source, wanted)
    try:
        test = parse_range(wanted)
    except RangeError:
        return lts, f"could not read {source} {wanted!r}; the default line, {default}"
    if test(lts.key):
        return lts, _wants(source, wanted)
    chosen = max((r for r in found if test(r.key)), key=_key, default=None)
    if chosen is None:
        newest_known = max(found, key=_key).version
        asks = "ask" if source == SETTING else "asks"
        raise ProvisionError(f"{source} {asks} for Node.js {wanted!r}, and no Node.js release "
                             f"satisfies it (the newest is {newest_known})")
    return chosen, _wants(source, wanted)


def provision_tools(toolchain: Toolchain, node_request: tuple[str, str] | None,
                    manager: ManagerRequest | None) -> tuple[Tool, ...]:
    """Node.js, then the package manager that supports it (blocking)."""
    node = toolchain.node(node_request)
    if manager is None:
        return (node,)
    return node, toolchain.manager(manager, parse_version(node.version) or (0, 0, 0))


def warm(settings: Settings | None = None) -> list[Tool]:
    """Fill the tool cache with the default Node.js and every manager's default version
    (the builder image does this once, so a Fargate build downloads nothing it can
    share)."""
    toolchain = Toolchain.from_settings(settings or Settings())
    node = toolchain.node(None)
    version = parse_version(node.version) or (0, 0, 0)
    managers = [toolchain.manager(ManagerRequest(tool, wanted, "the default"), version)
                for tool, wanted in DEFAULTS.items()]
    return [node, *managers]


if __name__ == "__main__":
    for tool in warm():
        print(tool.line)
