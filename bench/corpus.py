"""Corpus benchmark: cold and warm build times of every app in the fixture corpus
(``tests/fixtures/corpus``), through the real pipeline (git clone, tools from the tool
cache, bubblewrap sandbox, per-project caches).

Cold: a project of its own, so empty dependency caches (the tool cache is shared, as on
a real builder, and is filled by a first, unmeasured build of each app). Warm: the same
project again with a new commit that leaves the dependencies alone, so the dependency
cache and node_modules are reused and the build runs. The cold build is the baseline the
warm one is compared with, in the same run.

    sudo .venv/bin/python bench/corpus.py [--only vite-react-pnpm9,hugo-site] [--runs 1]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.builds import build_once  # noqa: E402
from infra.settings import Settings  # noqa: E402
from schemas.builds import BuildSettings  # noqa: E402
from tests.support.corpus import App, apps  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402


def bench_app(settings: Settings, git: GitServer, app: App, runs: int) -> tuple[float, float]:
    """(median cold, median warm) whole-build seconds."""
    url = git.make_repo(app.name, app.files())
    build = BuildSettings(**app.settings())
    build_once(settings, url, f"tools_{uuid.uuid4().hex[:8]}", build)  # fills the tool cache
    cold = [build_once(settings, url, f"cold_{uuid.uuid4().hex[:8]}", build)[1]
            for _ in range(runs)]
    project = f"warm_{uuid.uuid4().hex[:8]}"
    build_once(settings, url, project, build)
    warm = []
    for n in range(runs):
        git.commit(app.name, {"BENCH_CHANGE.txt": f"change {n} {uuid.uuid4().hex}"})
        warm.append(build_once(settings, url, project, build)[1])
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated app names")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    chosen = [a for a in apps() if not wanted or a.name in wanted]
    print(f"{'app':28} {'framework':14} {'manager':11} {'cold s':>8} {'warm s':>8} "
          f"{'warm/cold':>9}")
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git:
        settings = Settings(data_dir=Path(tmp) / "data", cache_dir=Path(tmp) / "cache",
                            build_timeout_seconds=1200, build_memory_mb=4096)
        for app in chosen:
            try:
                cold, warm = bench_app(settings, git, app, args.runs)
            except SystemExit as exc:  # build_once's report of a failed build
                print(f"{app.name:28} FAILED: {str(exc)[:300]}")
                continue
            print(f"{app.name:28} {app.framework:14} {app.package_manager or '-':11} "
                  f"{cold:8.1f} {warm:8.1f} {warm / cold:9.0%}", flush=True)


if __name__ == "__main__":
    main()
