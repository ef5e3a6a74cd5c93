"""Decide how to build a checkout: package manager, install and build commands, and
where the output is. Settings win; otherwise the files in the repository decide.

Everything here reads the checkout as untrusted input: paths are checked to stay
inside it, and ``package.json`` is opened without following symlinks.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from schemas.builds import BuildSettings

OUTPUT_CANDIDATES = ("dist", "build", "out", "public")
# Lockfile -> (package manager, install command), in order of precedence.
LOCKFILES = (
    ("package-lock.json", "npm", "npm ci"),
    ("npm-shrinkwrap.json", "npm", "npm ci"),
    ("yarn.lock", "yarn", "yarn install --frozen-lockfile"),
    ("pnpm-lock.yaml", "pnpm", "pnpm install --frozen-lockfile"),
)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
MAX_PACKAGE_JSON = 1 << 20


class DetectError(Exception):
    """The checkout cannot be built as configured; the message says why, in words."""


@dataclass(frozen=True)
class Plan:
    """What to run and where; ``root`` is relative to the checkout ("" for the top)."""

    root: str
    package_manager: str | None
    lockfile: str | None
    install: str | None
    build: str | None
    output: str | None

    @property
    def static(self) -> bool:
        return self.package_manager is None

    def describe(self) -> list[str]:
        """The system log lines that tell the user what was detected."""
        where = f" in {self.root}/" if self.root else ""
        if self.static:
            what = "running the configured commands" if self.install or self.build else \
                "serving the files as they are"
            return [f"No package.json{where}: {what}"]
        found = f"({self.lockfile})" if self.lockfile else "(package.json, no lockfile)"
        lines = [f"Detected {self.package_manager} {found}{where}"]
        if not self.build:
            lines.append("No build command and no \"build\" script: skipping the build")
        return lines


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


def read_package_json(project: Path) -> dict[str, object] | None:
    """Parsed package.json, or None when there is none (a plain static site)."""
    try:
        fd = os.open(project / "package.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        raise DetectError("package.json is not a regular file") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_PACKAGE_JSON + 1)
    if len(data) > MAX_PACKAGE_JSON:
        raise DetectError("package.json is larger than 1 MiB")
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise DetectError(f"package.json is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise DetectError("package.json must contain a JSON object")
    return parsed


def has_build_script(package: dict[str, object]) -> bool:
    scripts = package.get("scripts")
    return isinstance(scripts, dict) and isinstance(scripts.get("build"), str)


def find_lockfile(project: Path) -> tuple[str | None, str, str]:
    """(lockfile, package manager, install command); npm install when there is none."""
    for name, manager, install in LOCKFILES:
        if (project / name).is_file():
            return name, manager, install
    return None, "npm", "npm install"


def require_tool(manager: str, lockfile: str | None, path: str = SANDBOX_PATH) -> None:
    if shutil.which(manager, path=path) is None:
        raise DetectError(
            f"{lockfile} found, but {manager} is not installed on this builder: "
            f"set an install command, or commit a package-lock.json instead")


def plan_build(checkout: Path, settings: BuildSettings) -> Plan:
    """Decide the plan from the settings and the files in ``checkout``."""
    root = check_relative(settings.root_directory or "", "root directory")
    project = inside(checkout, root)
    if not project.is_dir():
        raise DetectError(f"root directory {root!r} does not exist in the repository")
    output = settings.output_directory
    output = check_relative(output, "output directory") if output is not None else None
    package = read_package_json(project)
    if package is None:
        return Plan(root, None, None, settings.install_command, settings.build_command, output)
    lockfile, manager, install = find_lockfile(project)
    if settings.install_command is None and manager != "npm":
        require_tool(manager, lockfile)
    build = settings.build_command
    if build is None and has_build_script(package):
        build = f"{manager} run build"
    return Plan(root, manager, lockfile, settings.install_command or install, build, output)


def find_output(checkout: Path, plan: Plan) -> Path:
    """The directory to publish, after the build: the setting, else the first of
    dist/, build/, out/, public/ that exists; a static site is served from its root."""
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
