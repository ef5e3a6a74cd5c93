"""The chaos suite (issue 16): kill -9 the API and worker process, an edge process, a
running build, the Kafka broker and PostgreSQL during 20 deployments; afterwards every
accepted command has exactly one effect, every deployment is final, and the edge kept
serving a site it served before. Not in the default run:

    .venv/bin/pytest tests/e2e/test_chaos.py -m chaos -q -s

``BUILDSPACE_CHAOS_SEED`` replays a run (its seed is printed)."""

from __future__ import annotations

import os
import random

import pytest

from tests.support.chaos import TARGETS, run

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


def test_kill_9_of_every_process_loses_and_duplicates_nothing(tmp_path, git_server):
    seed = int(os.environ.get("BUILDSPACE_CHAOS_SEED") or random.randrange(1 << 32))
    print(f"\nchaos seed {seed}")
    figures = run(tmp_path, git_server, seed)
    print(figures)
    assert sorted(figures.kills) == sorted(TARGETS), figures.findings
    assert (figures.lost, figures.duplicated, figures.stuck) == (0, 0, 0), figures.findings
    assert figures.accepted == figures.commands
    assert figures.edge_failures == {}, figures.edge_failures
