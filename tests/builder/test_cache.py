"""The per-project dependency cache: what a build adds is saved (never through a
link), and a second build with the same lockfile installs with no network at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from builder.cache import CacheError, merge, project_cache
from builder.detect import plan_build
from builder.modules_cache import copy_tree, modules_key
from builder.output_cache import KEEP
from infra.connections import s3_client
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.builds import BuildSettings, BuildSpec
from tests.builder.support import fixture_files, make_spec
from tests.builder.test_pipeline import build
from tests.support.corpus import apps

UID = 64000


def test_the_cache_directory_is_per_project_and_manager_and_owned_by_the_sandbox(
        tmp_path: Path):
    path = project_cache(tmp_path, "prj_1", "npm", UID, UID)
    assert path == tmp_path / "prj_1" / "npm"
    assert (path.stat().st_uid, path.stat().st_gid) == (UID, UID)
    for bad in ("..", "../x", "a/b", "", ".", "-x" * 100):
        with pytest.raises(CacheError):
            project_cache(tmp_path, bad, "npm", UID, UID)


def test_merge_copies_regular_files_and_follows_no_link(tmp_path: Path):
    upper, cache, outside = tmp_path / "upper", tmp_path / "cache", tmp_path / "outside"
    for d in (upper / "content" / "ab", cache / "content", outside):
        d.mkdir(parents=True)
    (upper / "content" / "ab" / "blob").write_bytes(b"tarball")
    (upper / "index").write_text("new index")
    (upper / "content" / "ab" / "bin-exec").write_bytes(b"\x7fELF")
    os.chmod(upper / "content" / "ab" / "bin-exec", 0o4775)
    os.symlink("/etc/passwd", upper / "passwd-link")
    os.mkfifo(upper / "fifo")
    os.mknod(upper / "whiteout", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    (cache / "index").write_text("old index")
    os.symlink(outside, cache / "content" / "ab")  # planted: must not be written through
    merge(upper, cache, UID, UID)
    assert (cache / "content" / "ab" / "blob").read_bytes() == b"tarball"
    assert not (cache / "content" / "ab").is_symlink() and list(outside.iterdir()) == []
    assert (cache / "index").read_text() == "new index"
    assert (cache / "index").stat().st_uid == UID
    assert stat.S_IMODE((cache / "index").stat().st_mode) == 0o644
    # A package's binary stays executable (pnpm links it from the store); no setuid.
    assert stat.S_IMODE((cache / "content" / "ab" / "bin-exec").stat().st_mode) == 0o755
    assert sorted(p.name for p in cache.iterdir()) == ["content", "index"]


def key(root: Path, env: dict[str, str] | None = None) -> str | None:
    plan = plan_build(root, BuildSettings())
    return modules_key(root, plan, env or {})


def test_the_node_modules_key_covers_what_decides_the_dependencies(tmp_path: Path):
    (tmp_path / "package.json").write_text('{"dependencies": {"is-number": "7.0.0"}}')
    (tmp_path / "package-lock.json").write_text("{}")
    first = key(tmp_path)
    assert first is not None and key(tmp_path) == first
    assert key(tmp_path, {"NODE_ENV": "production"}) != first
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3}')
    assert key(tmp_path) not in (None, first)


@pytest.mark.parametrize("package", ['{"scripts": {"postinstall": "node gen.js"}}',
                                     '{"scripts": {"prepare": "husky"}}',
                                     '{"workspaces": ["packages/*"]}'])
def test_projects_with_install_scripts_or_workspaces_always_install(tmp_path: Path,
                                                                     package: str):
    (tmp_path / "package.json").write_text(package)
    assert key(tmp_path) is None


def test_a_lockfile_that_is_not_a_file_means_installing(tmp_path: Path):
    (tmp_path / "package.json").write_text('{"dependencies": {"is-number": "7.0.0"}}')
    os.mkfifo(tmp_path / "package-lock.json")
    plan = plan_build(tmp_path, BuildSettings(install_command="npm i"))
    assert modules_key(tmp_path, plan, {}) is None


def test_a_snapshot_keeps_links_as_links_and_exec_bits(tmp_path: Path):
    src = tmp_path / "node_modules"
    (src / "vite" / "bin").mkdir(parents=True)
    (src / ".bin").mkdir()
    (src / "vite" / "bin" / "vite.js").write_text("#!/usr/bin/env node\n")
    os.chmod(src / "vite" / "bin" / "vite.js", 0o775)
    os.symlink("../vite/bin/vite.js", src / ".bin" / "vite")
    os.symlink("/etc", src / "etc")
    os.mkfifo(src / "fifo")
    size = copy_tree(src, tmp_path / "copy", UID, UID, 1 << 20)
    copy = tmp_path / "copy"
    assert size == len("#!/usr/bin/env node\n")
    assert os.readlink(copy / ".bin" / "vite") == "../vite/bin/vite.js"
    assert os.readlink(copy / "etc") == "/etc" and not (copy / "fifo").exists()
    assert stat.S_IMODE((copy / "vite" / "bin" / "vite.js").stat().st_mode) == 0o755
    assert copy_tree(src, tmp_path / "small", UID, UID, 4) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="the cache overlay needs root")
@pytest.mark.asyncio
async def test_a_second_build_installs_from_the_cache_without_network(settings, git_server,
                                                                 tmp_path: Path):
    url = git_server.make_repo("cache-app", fixture_files("cache-app"))
    cached = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    first = make_spec(url)
    record = await build(cached, first)
    assert record.outcome["type"] == "DeploymentReady", record.text
    assert "Dependency cache: npm, empty" in record.system
    npm_cache = tmp_path / "cache" / first.project_id / "npm"
    assert npm_cache.stat().st_uid == cached.sandbox_uid
    assert any((npm_cache / "_cacache").rglob("*")), "the install added nothing to the cache"

    # Same lockfile, but a build variable changes what node_modules may hold: npm runs,
    # from the cache alone.
    second = make_spec(url).model_copy(update={"project_id": first.project_id,
                                               "env": {"SITE_FLAVOR": "offline"}})
    again = await build(cached, second, install_network=False)
    assert again.outcome["type"] == "DeploymentReady", again.text
    assert "Dependency cache: npm, restored" in again.system
    assert "Running `npm ci --prefer-offline` (no network)" in again.system
    assert "built with is-number" in again.text.splitlines()


@pytest.mark.skipif(os.geteuid() != 0, reason="the cache overlay needs root")
@pytest.mark.asyncio
async def test_a_pnpm_store_from_the_cache_keeps_package_binaries_executable(settings, git_server,
                                                                      tmp_path: Path):
    """The Turborepo workspace of the corpus, twice in one project: the second install
    links turbo's binary from the cached store, and the build runs it."""
    app = next(a for a in apps() if a.name == "monorepo-pnpm-turbo")
    url = git_server.make_repo("cache-turbo", app.files())
    cached = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    first = make_spec(url, root_directory="apps/web")
    assert (await build(cached, first)).outcome["type"] == "DeploymentReady"
    git_server.commit("cache-turbo", {"CHANGE.txt": "a new commit: no output to reuse"})
    second = make_spec(url, root_directory="apps/web").model_copy(
        update={"project_id": first.project_id})
    again = await build(cached, second)
    assert again.outcome["type"] == "DeploymentReady", again.text[-3000:]
    assert "Dependency cache: pnpm, restored" in again.system


@pytest.mark.skipif(os.geteuid() != 0, reason="the cache overlay needs root")
@pytest.mark.asyncio
async def test_unchanged_dependencies_skip_the_install(settings, git_server, tmp_path: Path):
    url = git_server.make_repo("modules-app", fixture_files("cache-app"))
    cached = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    first = make_spec(url)
    assert "Saved node_modules for the next build" in (await build(cached, first)).system
    # The same commit would reuse the whole output (below); this one must build.
    second = make_spec(url).model_copy(update={"project_id": first.project_id,
                                               "build_cache": False})
    again = await build(cached, second, install_network=False)
    assert again.outcome["type"] == "DeploymentReady", again.text
    assert again.outcome["install_ms"] == 0
    assert ("Dependencies unchanged since the last build: node_modules restored from the "
            "cache, `npm ci --prefer-offline` skipped") in again.system
    assert "built with is-number" in again.text.splitlines()


STAMPED = ("mkdir -p out && date +%s%N > out/index.html && mkdir out/deep && "
           "echo asset > out/deep/a.txt")
REUSED = "Build output restored from the cache"


async def stamp(settings: Settings, spec: BuildSpec) -> str:
    """Build ``spec`` and return the index.html it published (a nanosecond stamp)."""
    record = await build(settings, spec)
    assert record.outcome["type"] == "DeploymentReady", record.text
    s3 = s3_client(settings)
    files = Manifest.model_validate_json(s3.get_object(
        Bucket=settings.artifacts_bucket, Key=manifest_key(spec.deployment_id))["Body"].read())
    assert set(files.files) == {"index.html", "deep/a.txt"}
    body = s3.get_object(Bucket=settings.artifacts_bucket,
                         Key=blob_key(files.files["index.html"].sha256))["Body"].read()
    return body.decode().strip() + (" reused" if REUSED in record.text else "")


@pytest.mark.asyncio
async def test_identical_inputs_reuse_the_output_and_any_change_builds_again(
        settings, git_server, s3, tmp_path: Path):
    url = git_server.make_repo("output-reuse", {"README": "one"})
    cached = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    first = make_spec(url, build_command=STAMPED, output_directory="out")
    same = {"project_id": first.project_id}

    async def again(**change: Any) -> str:
        spec = make_spec(url, build_command=STAMPED, output_directory="out")
        return await stamp(cached, spec.model_copy(update={**same, **change}))

    original = await stamp(cached, first)
    assert not original.endswith("reused")
    assert await again() == f"{original} reused"  # same commit, settings, variables
    assert not (await again(build_cache=False)).endswith("reused")  # asked to build again
    assert not (await again(env={"FLAVOR": "x"})).endswith("reused")  # other variables
    assert not (await again(project_id=f"{first.project_id}x")).endswith("reused")  # other project
    networked = first.settings.model_copy(update={"build_network": True})
    assert not (await again(settings=networked)).endswith("reused")  # the build could fetch
    git_server.commit("output-reuse", {"README": "two"})
    changed = await again()
    assert not changed.endswith("reused")  # other files
    assert await again() == f"{changed} reused"


@pytest.mark.asyncio
async def test_only_the_newest_outputs_are_kept(settings, git_server, s3, tmp_path: Path):
    url = git_server.make_repo("output-evict", {"README": "0"})
    cached = settings.model_copy(update={"cache_dir": tmp_path / "cache"})
    project = make_spec(url).project_id
    for n in range(KEEP + 2):
        git_server.commit("output-evict", {"README": str(n + 1)})
        spec = make_spec(url, build_command=STAMPED, output_directory="out")
        await stamp(cached, spec.model_copy(update={"project_id": project}))
    assert len(list((tmp_path / "cache" / project / "output").iterdir())) == KEEP
