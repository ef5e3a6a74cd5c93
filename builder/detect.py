"""Decide how to build a checkout: framework, package manager, Node.js version, install
and build commands, and where the output is. Settings win; otherwise the files in the
repository decide.

Everything here reads the checkout as untrusted input: paths are checked to stay
inside it, and files are opened without following symlinks.
"""

from __future__ import annotations

import shutil
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
from builder.manager_versions import requested_manager
from builder.node_versions import requested_node
from builder.package_managers import SANDBOX_PATH, PackageManager, detect_package_manager
from builder.plan import Plan
from builder.repo_files import RepoFileError, read_package_json, script
from builder.workspaces import find_workspace
from schemas.builds import BuildSettings

OUTPUT_CANDIDATES = ("dist", "build", "out", "public")


class DetectError(Exception):
    """The checkout cannot be built as configured; the message says why, in words."""


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
                requested_node(project, package, settings.node_version)
                or (requested_node(top, top_package) if workspace else None),
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
                requested_node(project, None, settings.node_version))


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
