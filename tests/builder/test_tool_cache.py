"""The tool cache: real releases from registry.npmjs.org installed and run, and the
failure cases (bad integrity, hostile tarballs, concurrent installs, a 404) against a
local registry on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from builder.registry import RegistryError, Release, newest, releases
from builder.tool_cache import PACKAGES, ToolCache
from tests.support.waiting import eventually

HOST_NODE = shutil.which("node")


class LocalRegistry:
    """Serves ``files`` (path -> body, else 404) on 127.0.0.1 and counts requests;
    answers for paths in ``held`` wait until ``gate`` is set."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.held: set[str] = set()
        self.gate = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> LocalRegistry:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: LocalRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            registry.requests[self.path] += 1
            if self.path in registry.held:
                registry.gate.wait(60)
            body = registry.files.get(self.path)
            self.send_response(404 if body is None else 200)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def tarball(*members: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
                continue
            info = tarfile.TarInfo(member[0])
            info.size, info.mode = len(member[1]), 0o755
            archive.addfile(info, io.BytesIO(member[1]))
    return out.getvalue()


def sri(body: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()


def fake_pnpm(version: str) -> bytes:
    script = f'console.log("{version}")\n'.encode()
    return tarball(("package/package.json", b'{"name": "pnpm"}'),
                   ("package/bin/pnpm.cjs", script))


def publish(local: LocalRegistry, version: str, body: bytes, integrity: str = "") -> Release:
    path = f"/pnpm/-/pnpm-{version}.tgz"
    local.files[path] = body
    return Release("pnpm", version, local.url + path[1:], integrity or sri(body), None)


def run(launcher: Path, *args: str) -> str:
    """``launcher`` with the host's node first in PATH and a home of its own."""
    assert HOST_NODE is not None, "these tests need node on the host"
    home = launcher.parents[3] / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": f"{Path(HOST_NODE).parent}:/usr/bin:/bin", "HOME": str(home)}
    done = subprocess.run([str(launcher), *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=home)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def nothing_left(cache: ToolCache, tool: str) -> bool:
    directory = cache.root / tool
    return cache.installed(tool) == [] and not list(directory.glob(".tmp-*"))


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ToolCache:
    """One cache for the real downloads, so each is fetched once per session."""
    return ToolCache(tmp_path_factory.mktemp("tools"))


@pytest.fixture
def local() -> Iterator[LocalRegistry]:
    with LocalRegistry() as registry:
        yield registry


def _real(cache: ToolCache, tool: str, wanted: str) -> tuple[Release, Path]:
    release = newest(releases(PACKAGES[tool]), wanted)
    assert release is not None
    return release, cache.ensure(tool, release)


@pytest.mark.parametrize(("tool", "wanted", "launchers"), [
    ("pnpm", "9", ["pnpm"]),
    ("pnpm", "7", ["pnpm"]),
    ("npm", "10", ["npm", "npx"]),
    ("yarn", "1.22.22", ["yarn", "yarnpkg"]),
    ("yarn-berry", "4", ["yarn"]),
    ("bun", "*", ["bun", "bunx"]),
])
def test_real_releases_install_and_run(cache: ToolCache, tool: str, wanted: str,
                                       launchers: list[str]) -> None:
    release, directory = _real(cache, tool, wanted)
    assert directory == cache.root / tool / release.version
    assert release.version in cache.installed(tool)
    for name in launchers:
        assert run(directory / "bin" / name, "--version") == release.version


def test_node_is_installed_as_its_binary_alone(cache: ToolCache) -> None:
    release, directory = _real(cache, "node", "22")
    assert run(directory / "bin" / "node", "--version") == f"v{release.version}"
    assert sorted(p.name for p in directory.iterdir()) == ["bin"]


def test_an_install_works_wherever_it_is_mounted(cache: ToolCache, tmp_path: Path) -> None:
    _, directory = _real(cache, "pnpm", "9")
    moved = shutil.copytree(directory, tmp_path / "opt" / "buildspace" / "pnpm", symlinks=True)
    assert run(moved / "bin" / "pnpm", "--version") == directory.name


def test_everyone_may_read_and_nobody_else_may_write(cache: ToolCache) -> None:
    for tool, wanted in [("pnpm", "9"), ("bun", "*")]:
        _, directory = _real(cache, tool, wanted)
        for path in [directory, *directory.rglob("*")]:
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            assert mode & 0o444 == 0o444 and mode & 0o022 == 0, path
            if path.is_dir() or path.parent == directory / "bin":
                assert mode & 0o111 == 0o111, path


def test_a_local_registry_release_installs(local: LocalRegistry, tmp_path: Path) -> None:
    body = fake_pnpm("7.1.0")
    local.files["/pnpm"] = orjson.dumps({"name": "pnpm", "versions": {
        v: {"version": v, "dist": {"tarball": f"{local.url}pnpm/-/pnpm-{v}.tgz",
                                   "integrity": sri(body)}}
        for v in ["7.1.0", "7.2.0-rc.1", "latest-ish"]}})
    local.files["/pnpm/-/pnpm-7.1.0.tgz"] = body
    found = releases("pnpm", registry=local.url)
    assert [r.version for r in found] == ["7.1.0"]
    cache = ToolCache(tmp_path)
    assert run(cache.ensure("pnpm", found[0]) / "bin" / "pnpm") == "7.1.0"
    assert cache.installed("pnpm") == ["7.1.0"]


def test_a_missing_package_names_itself(local: LocalRegistry) -> None:
    with pytest.raises(RegistryError, match="no-such-package") as caught:
        releases("no-such-package", registry=local.url)
    assert local.url in str(caught.value) and "not found" in str(caught.value)


def test_a_wrong_integrity_is_refused(local: LocalRegistry, tmp_path: Path) -> None:
    cache = ToolCache(tmp_path)
    release = publish(local, "7.1.0", fake_pnpm("7.1.0"), integrity=sri(b"other bytes"))
    with pytest.raises(RegistryError, match="integrity"):
        cache.ensure("pnpm", release)
    assert nothing_left(cache, "pnpm")


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("hostile", [
    ("package/../evil", b"x"),
    ("/tmp/evil", b"x"),
    _symlink("package/bin/up", "../../../../../../tmp"),
    _symlink("package/bin/abs", "/etc/passwd"),
], ids=["dotdot", "absolute", "link-outside", "absolute-link"])
def test_hostile_tarballs_are_refused(local: LocalRegistry, tmp_path: Path,
                                      hostile: tarfile.TarInfo | tuple[str, bytes]) -> None:
    cache = ToolCache(tmp_path / "tools")
    body = tarball(("package/bin/pnpm.cjs", b"console.log(1)\n"), hostile)
    with pytest.raises(RegistryError, match="tarball"):
        cache.ensure("pnpm", publish(local, "7.1.0", body))
    assert nothing_left(cache, "pnpm")
    assert [p.name for p in tmp_path.iterdir()] == ["tools"]


def _waiting_for_lock(lock: Path) -> bool:
    """Whether someone is blocked on ``lock`` (Linux lists waiters as ``->`` lines)."""
    inode = f":{os.stat(lock).st_ino} "
    return any("->" in line and inode in line
               for line in Path("/proc/locks").read_text().splitlines())


def test_concurrent_installs_download_once(local: LocalRegistry, tmp_path: Path) -> None:
    cache = ToolCache(tmp_path)
    release = publish(local, "7.1.0", fake_pnpm("7.1.0"))
    local.held.add("/pnpm/-/pnpm-7.1.0.tgz")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(cache.ensure("pnpm", release)))
               for _ in range(2)]
    threads[0].start()
    eventually(lambda: local.requests["/pnpm/-/pnpm-7.1.0.tgz"] == 1)
    threads[1].start()
    eventually(lambda: _waiting_for_lock(tmp_path / "pnpm" / ".7.1.0.lock"))
    local.gate.set()
    for thread in threads:
        thread.join(60)
    assert results == [tmp_path / "pnpm" / "7.1.0"] * 2
    assert local.requests["/pnpm/-/pnpm-7.1.0.tgz"] == 1
    assert cache.installed("pnpm") == ["7.1.0"]


def test_a_crashed_install_is_not_an_install(local: LocalRegistry, tmp_path: Path) -> None:
    cache = ToolCache(tmp_path)
    crashed = tmp_path / "pnpm" / ".tmp-7.1.0-abc123"
    (crashed / "bin").mkdir(parents=True)
    (crashed / "bin" / "pnpm").write_text("#!/bin/sh\n")
    assert cache.installed("pnpm") == []
    directory = cache.ensure("pnpm", publish(local, "7.2.0", fake_pnpm("7.2.0")))
    assert run(directory / "bin" / "pnpm") == "7.2.0"
    assert not crashed.exists()
    assert cache.installed("pnpm") == ["7.2.0"]
