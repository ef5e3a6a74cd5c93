"""Every read-side table is either rebuilt by a replay (it belongs to exactly one
replayable projection) or said not to be, with why; the API's and the CLI's names of
the projections are the registry's."""

from __future__ import annotations

from collections import Counter
from typing import get_args

from infra.console_replay import PROJECTIONS
from projections import audit, control_plane, hooks, outgoing, routes
from projections.registry import NOT_REPLAYED, REPLAYABLE, chosen, created_tables
from projections.tables import SCHEMAS
from schemas.replays import ProjectionName, ReplayRequest


def test_every_read_side_table_is_replayed_or_says_why_not():
    created = set(created_tables(SCHEMAS))
    owners = Counter(t for p in REPLAYABLE.values() for t in p.tables)
    assert [t for t, n in owners.items() if n > 1] == [], "a table of two projections"
    assert set(owners) & set(NOT_REPLAYED) == set(), "replayed and not"
    assert created - set(owners) - set(NOT_REPLAYED) == set(), "tables nobody declared"
    assert set(owners) | set(NOT_REPLAYED) == created, "declared tables that are gone"
    assert all(NOT_REPLAYED.values())


def test_the_registry_reads_the_tables_each_script_creates():
    assert created_tables(["CREATE TABLE IF NOT EXISTS a (x int);\n"
                           "create table if not exists b (y int);"]) == ["a", "b"]


def test_the_projections_are_the_workers_by_name():
    assert set(REPLAYABLE) == {control_plane.NAME, routes.NAME, hooks.NAME, outgoing.NAME,
                               audit.NAME}
    assert set(get_args(ProjectionName)) == set(REPLAYABLE) == set(PROJECTIONS)
    assert [p.name for p in chosen(None)] == list(REPLAYABLE)
    assert [p.name for p in chosen("routes")] == ["routes"]
    assert ReplayRequest().projection is None
