"""The data ``bench.growth`` projects, shaped as the platform makes it: a project's
creation, and a deployment's control events, build log and edge request records.
Random but seeded by the ids, so two runs of the same size store alike."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra import actors
from schemas.analytics import EdgeRequestsServed, RequestRecord
from schemas.audit import Actor
from schemas.builds import BuildPlan, BuildSpec
from schemas.envelope import Envelope, new_id
from schemas.events import (
    BuildPlanned,
    BuildStarted,
    DeploymentFailed,
    DeploymentReady,
    DeploymentRequested,
    ProjectCreated,
)
from schemas.logs import BuildHeartbeat, BuildLogAppended, LogLine

USER = Actor(kind="token", id=new_id(), user_id=new_id(), ip="203.0.113.7")
PLAN = BuildPlan(framework="vite", framework_name="Vite", spa_fallback=True, clean_urls=False,
                 output_directory="dist", package_manager="pnpm@9.15.9",
                 node_version="20.18.1", root_directory=".")
LOG_WORDS = (
    "transforming ({n}) src/components/Widget{n}.tsx",
    "dist/assets/index-{h}.js  {n}.{n} kB | gzip: {n}.{n} kB",
    "npm WARN deprecated inflight@1.0.{n}: This module is not supported, and leaks memory.",
    "added {n} packages, and audited {n} packages in {n}s",
    "✓ {n} modules transformed.",
    "Progress: resolved {n}, reused {n}, downloaded {n}, added {n}",
    "src/routes/page{n}.svelte:{n}:{n} warning: unused export 'load'",
    "[{n}ms] built chunk {h} ({n} modules)",
)
PATHS = ("/", "/index.html", "/about", "/blog", "/blog/hello-world", "/pricing", "/docs",
         "/docs/getting-started", "/favicon.ico", "/robots.txt", "/assets/index-3f2a9c1d.js",
         "/assets/index-8e4b7f02.css", "/assets/logo-5d1e.svg", "/missing", "/api/health")
STATUSES = (200,) * 16 + (304,) * 2 + (404, 500)
RETENTION_WINDOW = timedelta(days=29)  # inside the default 30 days of retention


@dataclass
class Deployment:
    deployment_id: str
    events: list[tuple[Envelope, Actor]]
    logs: list[BuildLogAppended]
    heartbeats: list[BuildHeartbeat]
    requests: EdgeRequestsServed

    @property
    def log_messages(self) -> list[Envelope]:
        return [*self.logs, *self.heartbeats]


def project_created(index: int) -> ProjectCreated:
    project_id = new_id()
    return ProjectCreated(stream_id=project_id, project_id=project_id, name=f"site-{index}",
                          subdomain=f"site-{index}", branch="main",
                          git_url=f"https://github.com/example/site-{index}",
                          team_id=USER.user_id)


def deployment(project: ProjectCreated, number: int, args: Any) -> Deployment:
    deployment_id = new_id()
    rng = random.Random(deployment_id)
    ids: dict[str, Any] = {"stream_id": project.project_id, "project_id": project.project_id,
           "deployment_id": deployment_id}
    logs = build_log(ids, args.lines, args.line_bytes, args.batch, rng)
    beats = [BuildHeartbeat(**ids | {"stream_id": deployment_id}, last_seq=args.lines)
             for _ in range(args.build_seconds // 10)]
    return Deployment(deployment_id, control_events(project, number, ids, args.lines), logs,
                      beats, requests(project, deployment_id, args.requests, rng))


def control_events(project: ProjectCreated, number: int, ids: dict[str, Any], lines: int
                   ) -> list[tuple[Envelope, Actor]]:
    """One in five a branch preview, one in ten a failed build."""
    preview = number % 5 == 0
    branch = f"feature/change-{number}" if preview else project.branch
    sha = hashlib.sha1(ids["deployment_id"].encode()).hexdigest()
    spec = BuildSpec(project_id=project.project_id, deployment_id=ids["deployment_id"],
                     git_url=project.git_url, ref=branch)
    final: Envelope = DeploymentReady(
        **ids, commit_sha=sha, file_count=48, total_bytes=1_850_000, uploaded_blobs=6,
        install_ms=9_400, build_ms=14_200, log_lines=lines)
    if number % 10 == 7:
        final = DeploymentFailed(**ids, reason="build command exited with code 1",
                                 step="build", commit_sha=sha, log_lines=lines)
    return [(DeploymentRequested(**ids, number=number, spec=spec, branch=branch,
                                 target="preview" if preview else "production"), USER),
            (BuildStarted(**ids, commit_sha=sha, runner="local"), actors.SYSTEM),
            (BuildPlanned(**ids, plan=PLAN), actors.SYSTEM),
            (final, actors.SYSTEM)]


def log_text(rng: random.Random, size: int) -> str:
    text = ""
    while len(text) < size:
        text += rng.choice(LOG_WORDS).format(n=rng.randint(1, 999),
                                             h=f"{rng.getrandbits(32):08x}") + " "
    return text[:size]


def build_log(ids: dict[str, Any], lines: int, size: int, batch: int, rng: random.Random
              ) -> list[BuildLogAppended]:
    start = datetime.now(UTC)
    all_lines = [LogLine(seq=seq, stream="stderr" if seq % 9 == 0 else "stdout",
                         ts=start + timedelta(milliseconds=300 * seq), line=log_text(rng, size))
                 for seq in range(1, lines + 1)]
    return [BuildLogAppended(**ids | {"stream_id": ids["deployment_id"]},
                             lines=all_lines[i:i + batch])
            for i in range(0, lines, batch)]


def requests(project: ProjectCreated, deployment_id: str, count: int, rng: random.Random
             ) -> EdgeRequestsServed:
    now = datetime.now(UTC)
    return EdgeRequestsServed(stream_id=project.project_id, project_id=project.project_id,
                              requests=[RequestRecord(
                                  ts=now - RETENTION_WINDOW * rng.random(),
                                  deployment_id=deployment_id,
                                  host=f"{project.subdomain}.localhost",
                                  path=rng.choice(PATHS), status=rng.choice(STATUSES),
                                  count=rng.choice((1, 1, 1, 2, 3)),
                                  bytes=rng.randint(300, 250_000),
                                  duration_ms=round(rng.uniform(0.2, 25), 2))
                                  for _ in range(count)])
