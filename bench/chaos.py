"""Chaos benchmark (issue 16): the chaos suite's scenario (tests/support/chaos.py) run
twice on the same seed, once as a baseline with no kills and once killing (-9) the API
and worker process, an edge process, a running build, the Kafka broker and PostgreSQL;
prints both runs' counts and wall times side by side.

    .venv/bin/python bench/chaos.py [--seed N] [--deployments 20]

Runs its own PostgreSQL, platforms and git server. Target: lost, duplicated and stuck
0, and no failed request to a site the edge served before the kills.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.chaos import Figures, run  # noqa: E402
from tests.support.gitserver import GitServer  # noqa: E402

ROWS = ("kills", "commands", "accepted", "lost", "duplicated", "stuck", "statuses", "log_lines",
        "edge_requests", "edge_failures", "wall")


def cell(figures: Figures, row: str) -> str:
    value = getattr(figures, row)
    if row == "kills":
        return str(len(value))
    if row == "wall":
        return f"{value:.1f} s"
    if row == "statuses":
        return " ".join(f"{k}:{v}" for k, v in sorted(value.items()))
    return str(value or 0) if row == "edge_failures" else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 32))
    parser.add_argument("--deployments", type=int, default=20)
    args = parser.parse_args()
    print(f"seed {args.seed}")
    with tempfile.TemporaryDirectory() as tmp, GitServer(Path(tmp) / "git") as git:
        baseline = run(Path(tmp) / "baseline", git, args.seed, chaos=False,
                       deployments=args.deployments)
        chaos = run(Path(tmp) / "chaos", git, args.seed, deployments=args.deployments)
    print(f"\n{'':14}{'baseline':>20}{'chaos':>20}")
    for row in ROWS:
        print(f"{row:14}{cell(baseline, row):>20}{cell(chaos, row):>20}")
    print(f"killed, in order: {', '.join(chaos.kills)}")
    for finding in baseline.findings + chaos.findings:
        print(f"finding: {finding}")
    clean = (chaos.lost, chaos.duplicated, chaos.stuck) == (0, 0, 0) and not chaos.edge_failures
    print(f"target (lost, duplicated, stuck, edge failures all 0): "
          f"{'met' if clean else 'MISSED'}")


if __name__ == "__main__":
    main()
