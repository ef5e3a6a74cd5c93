"""Decide how to build a checkout: framework, package manager, Node.js version, install
and build commands, and where the output is. Settings win; otherwise the files in the
repository decide.

Everything here reads the checkout as untrusted input: paths are checked to stay
inside it, and files are opened without following symlinks.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from builder.framework_outputs import warnings
from builder.frameworks import (
    Framework,
    UnknownFramework,
    detect_framework,
    detect_generator,
    install_command,
    preset,
    specialise,
)
from builder.manager_versions import ManagerRequest, requested_manager
from builder.node_versions import requested_node
from builder.package_managers import SANDBOX_PATH, PackageManager, detect_package_manager
from builder.provision import Tool
from builder.repo_files import RepoFileError, read_package_json, script
from builder.workspaces import Workspace, find_workspace
from schemas.builds import BuildSettings

OUTPUT_CANDIDATES = ("dist", "build", "out", "public")


class DetectError(Exception):
    """The checkout cannot be built as configured; the message says why, in words."""


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


def check_relative(value: str, what: str) -> str:
    """A relative path inside the checkout, normalised ("" for the top)."""
    path = PurePosixPath(value.strip().strip("/") or ".")
    if value.startswith("/") or ".." in path.parts or "\\" in value or "\x00" in value:
        raise DetectError(f"{what} must be a relative path inside the repository: {value!r}")
    return "" if str(path) == "." else str(path)


def inside(checkout: Path, relative: str) -> Path:
    """``checkout/relative``, refusing anything that resolves outside the checkout."""
    top = checkout.resolve()
    path = (top / relative).resolve()
    if not path.is_relative_to(top):
        raise DetectError(f"{relative!r} leads outside the repository")
    return path


def _framework(settings: BuildSettings, project: Path, package: dict[str, Any]
               ) -> tuple[Framework | None, bool]:
    if settings.framework:
        return specialise(preset(settings.framework), project, package), True
    return detect_framework(project, package), False


def _build_command(settings: BuildSettings, framework: Framework | None,
                   manager: PackageManager, package: dict[str, Any]) -> str | None:
    if settings.build_command is not None:
        return settings.build_command
    if framework is not None and framework.static:
        return None
    names = framework.scripts if framework else ("build",)
    name = next((n for n in names if script(package, n) is not None), None)
    if name is not None:
        return manager.run(name)
    return framework.command if framework else None


def _node_plan(settings: BuildSettings, checkout: Path, root: str, project: Path,
               package: dict[str, Any], output: str | None) -> Plan:
    framework, chosen = _framework(settings, project, package)
    workspace = find_workspace(checkout, root)
    top = inside(checkout, workspace.root) if workspace else project
    top_package = (read_package_json(top) or {}) if workspace else package
    manager = detect_package_manager(top, top_package)
    install = settings.install_command
    if install is None and not (framework is not None and framework.static):
        install = manager.install
    build = _build_command(settings, framework, manager, package)
    runner_build = workspace.build(manager.kind, package) if workspace else None
    at_workspace = settings.build_command is None and runner_build is not None and \
        (framework is None or not framework.static)
    notes = tuple(warnings(framework.slug, project, package)) if framework else ()
    fallback = framework.output if framework else None
    return Plan(root, manager, install, runner_build if at_workspace else build,
                output if output is not None else fallback, framework, chosen,
                requested_node(project, package) or (requested_node(top, top_package)
                                                     if workspace else None),
                requested_manager(top, manager), notes, workspace, at_workspace)


def _generator_plan(settings: BuildSettings, root: str, project: Path,
                    output: str | None) -> Plan:
    """No package.json: Hugo or MkDocs when their config is there (or the setting names
    them), else the configured commands or the files as they are."""
    chosen = bool(settings.framework)
    framework = preset(settings.framework) if settings.framework else detect_generator(project)
    if framework is not None and framework.node and not framework.static:
        raise DetectError(f"the framework setting is {framework.slug!r}, but {root or '.'}/"
                          f" has no package.json")
    install, build = settings.install_command, settings.build_command
    if framework is not None and not framework.static:
        install = install if install is not None else install_command(framework, project)
        build = build if build is not None else framework.command
        output = output if output is not None else framework.output
        if framework.slug == "hugo" and settings.build_command is None:
            require_hugo()
    return Plan(root, None, install, build, output, framework, chosen,
                requested_node(project, None))


def require_hugo() -> None:
    if shutil.which("hugo", path=SANDBOX_PATH) is None:
        raise DetectError("this is a Hugo site, but hugo is not installed on this builder: "
                          "install Debian's hugo package (bin/dev does), or set a build "
                          "command")


def plan_build(checkout: Path, settings: BuildSettings) -> Plan:
    """Decide the plan from the settings and the files in ``checkout``."""
    root = check_relative(settings.root_directory or "", "root directory")
    project = inside(checkout, root)
    if not project.is_dir():
        raise DetectError(f"root directory {root!r} does not exist in the repository")
    output = settings.output_directory
    output = check_relative(output, "output directory") if output is not None else None
    try:
        package = read_package_json(project)
        if package is None:
            return _generator_plan(settings, root, project, output)
        return _node_plan(settings, checkout, root, project, package, output)
    except (RepoFileError, UnknownFramework) as exc:
        raise DetectError(str(exc)) from None


def find_output(checkout: Path, plan: Plan) -> Path:
    """The directory to publish, after the build: the setting or the framework's, else
    the first of dist/, build/, out/, public/ that exists; a static site is served from
    its root."""
    project = inside(checkout, plan.root)
    if plan.output is not None:
        candidates: tuple[str, ...] = (plan.output,)
    elif plan.static:
        return project
    else:
        candidates = OUTPUT_CANDIDATES
    for name in candidates:
        if (project / name).is_dir():
            return project / name
    shown = ", ".join(f"{name}/" for name in candidates)
    raise DetectError(f"no output directory: the build produced none of {shown}")
