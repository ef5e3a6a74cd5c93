"""Build benchmark: cold and warm (dependency cache restored) install + build times of
the Vite fixture and of a React + TypeScript app, median of 3 each, through the real
pipeline (git clone, bubblewrap sandbox, limited disk, per-project cache); and the
sandbox's start overhead: median of ~30 runs of ``true`` in the sandbox minus running
``true`` directly.

Two figures per build: install + build as measured inside the sandbox, and the whole
build (clone, disk, cache restore and save, install, build, collect) as the user waits
for it; the warm target is judged on the whole build. Warm builds are measured for the
same commit again (the output cache skips install and build) and for new commits that
leave the dependencies alone (node_modules reused, the build runs).

    sudo .venv/bin/python bench/builds.py [--runs 3] [--starts 30]

Runs its own git server; needs no broker or object store (log lines and events are
kept in memory, the output is collected but not uploaded). Targets: warm <= 40 % of
cold; sandbox start overhead <= 50 ms. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from builder import sandbox  # noqa: E402
from builder.cgroups import Limits  # noqa: E402
from builder.collect import OutputFile  # noqa: E402
from builder.pipeline import run_build  # noqa: E402
from builder.publish import Published  # noqa: E402
from builder.workspace import Workspace  # noqa: E402
from infra.settings import Settings  # noqa: E402
from schemas.artifacts import SiteConfig  # noqa: E402
from schemas.builds import BuildSettings, BuildSpec  # noqa: E402
from schemas.envelope import Envelope  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
APPS = {"Vite": "vite-app", "React + TypeScript": "react-ts-app"}
WARM_TARGET, START_TARGET_MS = 0.40, 50.0


class MemoryEmitter:
    """The pipeline's ``Emitter``, keeping everything in memory."""

    def __init__(self) -> None:
        self.seq = 0
        self.lines: list[str] = []
        self.events: list[Any] = []

    async def line(self, stream: str, text: str) -> None:
        self.seq += 1
        self.lines.append(text)

    async def system(self, text: str) -> None:
        await self.line("system", text)

    async def publish(self, event: Envelope) -> None:
        self.events.append(event)


def no_upload(deployment_id: str, files: list[OutputFile], site: SiteConfig) -> Published:
    return Published(len(files), sum(f.size for f in files), 0, len({f.sha256 for f in files}))


def build_once(settings: Settings, url: str, project_id: str,
               build: BuildSettings | None = None) -> tuple[float, float]:
    """(install + build in the sandbox, the whole build) in seconds."""
    spec = BuildSpec(project_id=project_id, deployment_id=f"bench_{uuid.uuid4().hex[:12]}",
                     git_url=url, ref="main", settings=build or BuildSettings())
    emitter = MemoryEmitter()
    started = time.perf_counter()
    asyncio.run(run_build(spec, settings, emitter, no_upload))
    whole = time.perf_counter() - started
    outcome = emitter.events[-1]
    if outcome.type != "DeploymentReady":
        tail = "\n".join(emitter.lines[-15:])
        raise SystemExit(f"the build failed: {outcome.reason}\n{tail}")
    return (outcome.install_ms + outcome.build_ms) / 1000, whole


def medians(runs: list[tuple[float, float]], label: str) -> tuple[float, float]:
    shown = ", ".join(f"{inside:.2f}/{whole:.2f}" for inside, whole in runs)
    print(f"  {label} runs (install+build / whole, s): {shown}")
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def bench_app(settings: Settings, git: GitServer, repo: str, url: str, runs: int) -> None:
    """Cold builds get a project (so caches) of their own. Warm ones share one whose
    caches a first build filled, and are measured twice: the same commit again (the
    output cache applies: install and build are skipped) and new commits that change a
    file but not the dependencies (node_modules is reused, the build runs)."""
    cold = medians([build_once(settings, url, f"cold_{uuid.uuid4().hex[:8]}")
                    for _ in range(runs)], "cold")
    warm_project = f"warm_{uuid.uuid4().hex[:8]}"
    build_once(settings, url, warm_project)
    same = medians([build_once(settings, url, warm_project) for _ in range(runs)],
                   "warm, same commit")
    changed = []
    for n in range(runs):
        git.commit(repo, {"BENCH_CHANGE.txt": f"change {n} {uuid.uuid4().hex}"})
        changed.append(build_once(settings, url, warm_project))
    fresh = medians(changed, "warm, new commit")
    for label, warm in (("warm, same commit", same), ("warm, new commit", fresh)):
        for what, c, w in (("install+build", cold[0], warm[0]),
                           ("whole build", cold[1], warm[1])):
            print(f"  {label}: {what}: median cold {c:.2f} s, median warm {w:.2f} s: warm "
                  f"is {w / c:.0%} of cold")
        ratio = warm[1] / cold[1]
        print(f"  {label}: target warm <= {WARM_TARGET:.0%} of cold (whole build): "
              f"{verdict(ratio <= WARM_TARGET)}")


async def _quiet(stream: str, text: str) -> None:
    """The benchmark's commands print nothing worth keeping."""


def sandbox_start_ms(starts: int) -> tuple[float, float]:
    """(median ms of `true` in the sandbox, median ms of `true` run directly)."""
    ws = Workspace.create(Settings().sandbox_uid, Settings().sandbox_gid)
    ws.src.mkdir()
    ws.hand_over()
    limits = Limits(60, 512, 64, 1.0)
    try:
        inside = []
        for _ in range(starts):
            started = time.perf_counter()
            asyncio.run(sandbox.run(ws, "true", cwd="", network=False, limits=limits,
                                    on_line=_quiet))
            inside.append((time.perf_counter() - started) * 1000)
    finally:
        ws.remove()
    direct = []
    for _ in range(starts):
        started = time.perf_counter()
        subprocess.run(["true"], check=True)
        direct.append((time.perf_counter() - started) * 1000)
    return statistics.median(inside), statistics.median(direct)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--starts", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git:
        settings = Settings(data_dir=Path(tmp) / "data", cache_dir=Path(tmp) / "cache")
        for label, fixture in APPS.items():
            files = {p.relative_to(FIXTURES / fixture).as_posix(): p.read_bytes()
                     for p in (FIXTURES / fixture).rglob("*") if p.is_file()}
            url = git.make_repo(fixture, files)
            print(f"{label} ({fixture}):")
            bench_app(settings, git, fixture, url, args.runs)
    inside, direct = sandbox_start_ms(args.starts)
    overhead = inside - direct
    print(f"sandbox start: `true` in the sandbox {inside:.1f} ms, directly {direct:.1f} ms "
          f"(medians of {args.starts}): overhead {overhead:.1f} ms "
          f"(target <= {START_TARGET_MS:.0f} ms: {verdict(overhead <= START_TARGET_MS)})")


if __name__ == "__main__":
    main()
