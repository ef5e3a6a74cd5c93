"""A build's plan: what detection decided (``builder.detect``) and the tools provisioned
for it (``builder.provision``), and what the log and the deployment's JSON say of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.frameworks import Framework
from builder.manager_versions import ManagerRequest
from builder.package_managers import PackageManager
from builder.provision import Tool
from builder.workspaces import Workspace


@dataclass(frozen=True)
class Plan:
    """What to run and where; ``root`` is relative to the checkout ("" for the top).
    ``install_root`` is where the install runs (a workspace's root, else ``root``);
    ``tools`` are filled in by ``builder.provision`` before anything runs."""

    root: str
    manager: PackageManager | None
    install: str | None
    build: str | None
    output: str | None
    framework: Framework | None = None
    framework_from_settings: bool = False
    node_request: tuple[str, str] | None = None
    manager_request: ManagerRequest | None = None
    notes: tuple[str, ...] = ()
    workspace: Workspace | None = None
    build_at_workspace: bool = False  # Turborepo or Nx build from the workspace root
    tools: tuple[Tool, ...] = ()

    @property
    def package_manager(self) -> str | None:
        return self.manager.tool if self.manager else None

    @property
    def lockfile(self) -> str | None:
        return self.manager.lockfile if self.manager else None

    @property
    def install_root(self) -> str:
        return self.workspace.root if self.workspace else self.root

    @property
    def build_root(self) -> str:
        return self.install_root if self.build_at_workspace else self.root

    @property
    def static(self) -> bool:
        """Served from the files as they are (no package.json, or the static preset)."""
        if self.framework is not None:
            return self.framework.static
        return self.manager is None

    @property
    def needs_node(self) -> bool:
        """Whether the steps run with Node.js (not for Hugo, MkDocs or plain files)."""
        if self.framework is not None and (self.framework.static or not self.framework.node):
            return False
        return bool(self.install or self.build)

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    @property
    def node_version(self) -> str | None:
        node = self.tool("node")
        return node.version if node else None

    @property
    def toolchain_key(self) -> list[str]:
        """The tool versions, for the cache keys: another version may build differently."""
        return [f"{t.name}@{t.version}" for t in self.tools]

    def describe(self) -> list[str]:
        """The system log lines that tell the user what was detected."""
        lines = [f"Root directory: {self.root}/"] if self.root else []
        if self.workspace is not None:
            lines.append(self.workspace.describe(self.root))
        if self.manager is None:
            if self.framework is not None and not self.framework.static:
                lines.append(self._framework_line())
            else:
                what = "running the configured commands" if self.install or self.build else \
                    "serving the files as they are"
                lines.append(f"No package.json: {what}")
        else:
            lines += [self._framework_line(), *self.notes, self.manager.describe()]
        if self.manager is not None and not self.build and not self.static:
            lines.append("No build command and no \"build\" script: skipping the build")
        return lines

    def _framework_line(self) -> str:
        if self.framework is None:
            return "No framework detected"
        if self.framework_from_settings:
            return f"Framework: {self.framework.name} (from the project settings)"
        return f"Detected framework: {self.framework.name}"

    def summary(self) -> dict[str, Any]:
        """What the deployment's JSON shows of how it was built (``BuildPlan``)."""
        manager = next((t for t in self.tools if t.name != "node"), None)
        framework = self.framework
        return {"framework": framework.slug if framework else None,
                "framework_name": framework.name if framework else None,
                "spa_fallback": framework.spa if framework else None,
                "clean_urls": framework.clean_urls if framework else None,
                "output_directory": self.output,
                "package_manager": f"{manager.name}@{manager.version}" if manager else None,
                "node_version": self.node_version, "root_directory": self.root or None,
                "workspace_root": self.workspace.root if self.workspace else None}
