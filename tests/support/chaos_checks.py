"""What the chaos scenario counts once the platform is stopped: the rows in PostgreSQL
(projects, deployments, routes) and ClickHouse (build log lines, read without FINAL so a
line stored twice shows) against the commands the client saw accepted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.support.chaos_client import Command
from tests.support.sync import run_sync

# Run in a child: chdb holds its data dir for the life of the process that opens it.
LOG_COUNTS = """
import json, sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
rows = client.query("SELECT deployment_id, count(), uniqExact(seq), min(seq), max(seq) "
                    "FROM build_logs GROUP BY deployment_id").result_rows
print(json.dumps([list(r) for r in rows]))
"""


@dataclass
class Effects:
    lost: int = 0
    duplicated: int = 0
    log_lines: int = 0
    findings: list[str] = field(default_factory=list)


async def _fetch(dsn: str) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {table: [dict(r) for r in await conn.fetch(sql)] for table, sql in {
            "projects": "SELECT project_id, name FROM projects",
            "deployments": "SELECT deployment_id, project_id, status FROM deployments",
            "routes": "SELECT project_id, deployment_id FROM routes WHERE production",
        }.items()}
    finally:
        await conn.close()


def postgres_rows(dsn: str) -> dict[str, list[dict[str, Any]]]:
    return run_sync(_fetch(dsn))


def chdb_rows(data_dir: Path) -> dict[str, tuple[int, int, int, int]]:
    """deployment id -> (lines, distinct seqs, min seq, max seq)."""
    done = subprocess.run([sys.executable, "-c", LOG_COUNTS, str(data_dir / "clickhouse")],
                          capture_output=True, text=True, timeout=120, check=True)
    return {row[0]: tuple(row[1:]) for row in json.loads(done.stdout)}  # type: ignore[misc]


def count_effects(sent: list[Command], pg: dict[str, list[dict[str, Any]]],
                  logs: dict[str, tuple[int, int, int, int]]) -> Effects:
    found = Effects()
    _projects(sent, pg, found)
    _deployments(sent, pg, found)
    ready = {d["deployment_id"] for d in pg["deployments"] if d["status"] == "READY"}
    routed = {r["project_id"] for r in pg["routes"]}
    for project in {d["project_id"] for d in pg["deployments"] if d["status"] == "READY"}:
        if project not in routed:
            found.lost += 1
            found.findings.append(f"project {project} has a READY deployment but no route")
    for deployment in ready:
        _log_lines(deployment, logs.get(deployment), found)
    return found


def _projects(sent: list[Command], pg: dict[str, list[dict[str, Any]]], found: Effects) -> None:
    names = Counter(p["name"] for p in pg["projects"])
    for command in sent:
        if command.answer is not None and command.path == "/v1/projects":
            rows = names[command.body["name"]]
            found.lost += rows == 0
            found.duplicated += max(rows - 1, 0)
            if rows != 1:
                found.findings.append(f"project {command.body['name']}: {rows} rows")


def _deployments(sent: list[Command], pg: dict[str, list[dict[str, Any]]],
                 found: Effects) -> None:
    stored = {d["deployment_id"] for d in pg["deployments"]}
    per_project = Counter(d["project_id"] for d in pg["deployments"])
    accepted: Counter[str] = Counter()
    for command in sent:
        if command.answer is not None and command.path.endswith("/deployments"):
            accepted[command.answer["project_id"]] += 1
            if command.answer["id"] not in stored:
                found.lost += 1
                found.findings.append(f"deployment {command.answer['id']} accepted, no row")
    for project, rows in per_project.items():
        extra = rows - accepted[project]
        if extra > 0:
            found.duplicated += extra
            found.findings.append(f"project {project}: {rows} deployments, "
                                  f"{accepted[project]} accepted")


def _log_lines(deployment: str, counts: tuple[int, int, int, int] | None,
               found: Effects) -> None:
    """Seqs start at 1 (the builder's numbering) and are contiguous."""
    if counts is None:
        found.lost += 1
        found.findings.append(f"READY deployment {deployment} has no log line")
        return
    lines, distinct, low, high = counts
    found.log_lines += lines
    if lines != distinct:
        found.duplicated += lines - distinct
        found.findings.append(f"deployment {deployment}: {lines} log rows, {distinct} seqs")
    if (low, high) != (1, distinct):
        found.lost += high - distinct + (low - 1)
        found.findings.append(f"deployment {deployment}: seqs {low}..{high}, {distinct} of them")
