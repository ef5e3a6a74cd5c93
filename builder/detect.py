"""Decide how to build a checkout: framework, package manager, Node.js version, install
and build commands, and where the output is. Settings win; otherwise the files in the
repository decide.

Everything here reads the checkout as untrusted input: paths are checked to stay
inside it, and files are opened without following symlinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from builder.frameworks import Framework, UnknownFramework, detect_framework, preset, warnings
from builder.node_versions import (
    NodeChoice,
    NodeInstall,
    choose_node,
    installed_nodes,
    requested_node,
)
from builder.package_managers import (
    SANDBOX_PATH,
    PackageManager,
    ToolMissing,
    detect_package_manager,
    require_tool,
)
from builder.repo_files import RepoFileError, read_package_json, script
from schemas.builds import BuildSettings

OUTPUT_CANDIDATES = ("dist", "build", "out", "public")


class DetectError(Exception):
    """The checkout cannot be built as configured; the message says why, in words."""


@dataclass(frozen=True)
class Plan:
    """What to run and where; ``root`` is relative to the checkout ("" for the top)."""

    root: str
    manager: PackageManager | None
    install: str | None
    build: str | None
    output: str | None
    framework: Framework | None = None
    framework_from_settings: bool = False
    node: NodeChoice | None = None
    notes: tuple[str, ...] = ()

    @property
    def package_manager(self) -> str | None:
        return self.manager.tool if self.manager else None

    @property
    def lockfile(self) -> str | None:
        return self.manager.lockfile if self.manager else None

    @property
    def static(self) -> bool:
        """Served from the files as they are (no package.json, or the static preset)."""
        return self.manager is None or (self.framework is not None and self.framework.static)

    def describe(self) -> list[str]:
        """The system log lines that tell the user what was detected."""
        lines = [f"Root directory: {self.root}/"] if self.root else []
        if self.manager is None:
            what = "running the configured commands" if self.install or self.build else \
                "serving the files as they are"
            lines.append(f"No package.json: {what}")
        else:
            lines += [self._framework_line(), *self.notes, self.manager.describe()]
        if self.node is not None and (self.install or self.build):
            lines.append(self.node.message)
        if self.manager is not None and not self.build and not self.static:
            lines.append("No build command and no \"build\" script: skipping the build")
        return lines

    def _framework_line(self) -> str:
        if self.framework is None:
            return "No framework detected"
        if self.framework_from_settings:
            return f"Framework: {self.framework.name} (from the project settings)"
        return f"Detected framework: {self.framework.name}"


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
        return preset(settings.framework), True
    return detect_framework(project, package), False


def _build_command(settings: BuildSettings, framework: Framework | None,
                   manager: PackageManager, package: dict[str, Any]) -> str | None:
    if settings.build_command is not None:
        return settings.build_command
    if framework is not None and framework.static:
        return None
    name = framework.script if framework else "build"
    if script(package, name) is not None:
        return manager.run(name)
    return framework.command if framework else None


def _node_plan(settings: BuildSettings, project: Path, package: dict[str, Any],
               output: str | None, node: NodeChoice) -> Plan:
    framework, chosen = _framework(settings, project, package)
    manager = detect_package_manager(project, package)
    install = settings.install_command
    if install is None and not (framework is not None and framework.static):
        node_bin = node.install.bin_dir if node.install else None
        require_tool(manager, ":".join(filter(None, (node_bin, SANDBOX_PATH))))
        install = manager.install
    notes = tuple(warnings(framework, project, package)) if framework else ()
    fallback = framework.output if framework else None
    return Plan("", manager, install, _build_command(settings, framework, manager, package),
                output if output is not None else fallback, framework, chosen, node, notes)


def plan_build(checkout: Path, settings: BuildSettings,
               nodes: Sequence[NodeInstall] | None = None) -> Plan:
    """Decide the plan from the settings and the files in ``checkout``."""
    root = check_relative(settings.root_directory or "", "root directory")
    project = inside(checkout, root)
    if not project.is_dir():
        raise DetectError(f"root directory {root!r} does not exist in the repository")
    output = settings.output_directory
    output = check_relative(output, "output directory") if output is not None else None
    try:
        package = read_package_json(project)
        node = choose_node(requested_node(project, package),
                           installed_nodes() if nodes is None else nodes)
        if package is None:
            return Plan(root, None, settings.install_command, settings.build_command, output,
                        node=node)
        plan = _node_plan(settings, project, package, output, node)
    except (RepoFileError, UnknownFramework, ToolMissing) as exc:
        raise DetectError(str(exc)) from None
    return replace(plan, root=root)


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
