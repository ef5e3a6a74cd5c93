"""The chaos scenario (issue 16), shared by tests/e2e/test_chaos.py and bench/chaos.py:
during a workload of deployments, kill -9 at seeded random points the API process,
the worker (with chdb both are the one ``api+worker`` process), an edge process, a
running build's sandbox tree, the Kafka broker and PostgreSQL; then count what every
accepted command left in PostgreSQL and ClickHouse, and how the edge served a site."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.test_deploy import host
from tests.e2e.test_supervision import edges, restarted
from tests.support import procs
from tests.support.chaos_checks import chdb_rows, count_effects, postgres_rows
from tests.support.chaos_client import RetryingClient, SitePoller
from tests.support.gitserver import GitServer
from tests.support.platform import Platform
from tests.support.postgres import OwnPostgres
from tests.support.waiting import eventually

TARGETS = ("api", "worker", "edge", "build", "kafka", "postgres")
FINAL = {"READY", "FAILED", "CANCELED"}
SENTINEL = "<p>served before the kills</p>"
# A build that runs in the sandbox for a few seconds: something to kill mid-build.
SLOW = {"package.json": json.dumps({"name": "slow", "private": True, "scripts": {
    "build": "node -e \"setTimeout(() => { require('fs').mkdirSync('dist'); require('fs')"
             ".writeFileSync('dist/index.html', 'slow'); }, 4000)\""}})}


@dataclass
class Window:
    target: str
    start: float
    end: float = 0.0


@dataclass
class Figures:
    seed: int
    chaos: bool
    kills: list[str] = field(default_factory=list)
    commands: int = 0
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    edge_requests: int = 0
    edge_failures: dict[str, int] = field(default_factory=dict)  # by what was down
    log_lines: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # accepted deployments, at the end
    wall: float = 0.0
    findings: list[str] = field(default_factory=list)


class Killer(threading.Thread):
    """kill -9 each target once, in a seeded order at seeded moments, waiting for each
    to be back (restarted by the supervisor; PostgreSQL by us) before the next."""

    def __init__(self, platform: Platform, pg: OwnPostgres, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.platform, self.pg, self.rng = platform, pg, rng
        self.windows: list[Window] = []
        self.error: BaseException | None = None
        self.start_build: Callable[[], object] = lambda: None  # a slow build, to kill

    def run(self) -> None:
        order = list(TARGETS)
        self.rng.shuffle(order)
        try:
            for target in order:
                time.sleep(self.rng.uniform(0.5, 3.0))
                window = Window(target, time.monotonic())
                self.windows.append(window)
                getattr(self, f"_{target}")()
                window.end = time.monotonic()
        except BaseException as e:  # reported by the scenario
            self.error = e

    def _control(self) -> None:
        [pid] = self.platform.roles("api worker")
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: restarted(self.platform, pid), 120, what=f"pid {pid} restarted")
        self.platform.wait_api()

    _api = _worker = _control  # one process while ClickHouse is chdb

    def _edge(self) -> None:
        pid = self.rng.choice(self.platform.roles("edge"))
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: restarted(self.platform, pid), 60, what=f"edge {pid} restarted")
        edges(self.platform)

    def _build(self) -> None:
        assert self.platform.proc is not None
        up = self.platform.proc.pid
        if _sandbox(up) is None:  # none in flight at this moment: start one
            self.start_build()
        sandbox = eventually(lambda: _sandbox(up), 120, what="a running build's sandbox",
                             interval=0.05)
        assert sandbox is not None
        for pid in [sandbox, *_descendants(sandbox)]:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)

    def _kafka(self) -> None:
        assert self.platform.proc is not None
        [pid] = [p for p, cmd in procs.children(self.platform.proc.pid).items()
                 if "kafka.Kafka" in cmd]
        os.kill(pid, signal.SIGKILL)
        eventually(lambda: restarted(self.platform, pid), 120, what="broker restarted")

    def _postgres(self) -> None:
        self.pg.kill()
        time.sleep(self.rng.uniform(1.0, 3.0))  # down for a while, as systemd would leave it
        self.pg.start()
        self.platform.wait_api()


def _descendants(pid: int) -> list[int]:
    found = []
    for child in procs.children(pid):
        found += [child, *_descendants(child)]
    return found


def _sandbox(root: int) -> int | None:
    """The first bwrap process under ``root`` (a build in its sandbox)."""
    for pid in _descendants(root):
        if "bwrap" in procs.cmdline(pid).split(" ", 1)[0]:
            return pid
    return None


def run(root: Path, git: GitServer, seed: int, *, chaos: bool = True,
        deployments: int = 20, bound: float = 180) -> Figures:
    """One run on its own PostgreSQL and ``buildspace up``; the figures it counted."""
    figures, rng, started = Figures(seed, chaos), random.Random(seed), time.monotonic()
    pg = OwnPostgres(root / "postgres")
    platform = Platform(root / "platform", pg.dsn)
    platform.start()
    try:
        client = RetryingClient(platform)
        killer = Killer(platform, pg, rng) if chaos else None
        _workload(platform, git, client, rng, figures, deployments, bound, killer)
        platform.stop()
        effects = count_effects(client.sent, postgres_rows(pg.dsn),
                                chdb_rows(platform.data_dir))
        figures.lost, figures.duplicated = effects.lost, effects.duplicated
        figures.log_lines, figures.findings = effects.log_lines, figures.findings + effects.findings
    finally:
        if platform.proc and platform.proc.poll() is None:
            platform.stop()
        pg.stop()
    figures.commands = len(client.sent)
    figures.accepted = sum(c.answer is not None for c in client.sent)
    figures.wall = time.monotonic() - started
    return figures


def _workload(platform: Platform, git: GitServer, client: RetryingClient, rng: random.Random,
              figures: Figures, deployments: int, bound: float, killer: Killer | None) -> None:
    name = f"chaos-{figures.seed}-{'k' if killer else 'b'}"
    sentinel = _project(client, git, f"{name}-site", {"index.html": SENTINEL})
    first = client.send("POST", f"/v1/projects/{sentinel['id']}/deployments").answer
    assert first is not None and platform.wait_status(first["id"], FINAL)["status"] == "READY"
    site = host(sentinel["url"])
    assert platform.wait_site(site, timeout=30).text == SENTINEL
    plain = [_project(client, git, f"{name}-{n}", {"index.html": f"<p>{n}</p>"})
             for n in range(3)]
    slow = _project(client, git, f"{name}-slow", SLOW)
    poller = SitePoller(platform, site, SENTINEL)
    poller.start()
    if killer:
        killer.start_build = lambda: client.send("POST", f"/v1/projects/{slow['id']}/deployments")
        killer.start()
    for n in range(deployments):
        project = slow if n % 4 == 1 else plain[n % 3]
        client.send("POST", f"/v1/projects/{project['id']}/deployments")
        time.sleep(rng.uniform(0.3, 1.5))
    if killer:
        killer.join(600)
        if killer.error:
            figures.findings.append(f"the killer stopped: {killer.error!r}")
        figures.kills = [w.target for w in killer.windows]
    figures.stuck, figures.statuses = _wait_final(client, bound)
    poller.stop()
    figures.edge_requests = poller.requests
    windows = killer.windows if killer else []
    for failed in poller.failures:
        down = [w.target for w in windows if w.start <= failed <= (w.end or failed) + 5]
        label = "+".join(down) or "nothing"
        figures.edge_failures[label] = figures.edge_failures.get(label, 0) + 1


def _project(client: RetryingClient, git: GitServer, name: str, files: dict[str, str]) -> dict:
    url = git.make_repo(name, files)
    answer = client.send("POST", "/v1/projects", {"name": name, "git_url": url}).answer
    assert answer is not None, f"creating {name} never answered"
    return answer


def _deploy_ids(client: RetryingClient) -> list[str]:
    return [c.answer["id"] for c in client.sent
            if c.answer is not None and c.path.endswith("/deployments")]


def _wait_final(client: RetryingClient, bound: float) -> tuple[int, dict[str, int]]:
    """How many accepted deployments are not final ``bound`` seconds from now, and how
    many ended in each status."""
    status = {d: "" for d in _deploy_ids(client)}
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        for d in [d for d, s in status.items() if s not in FINAL]:
            status[d] = client.get(f"/v1/deployments/{d}")["status"]
        if set(status.values()) <= FINAL:
            break
        time.sleep(0.5)
    stuck = sum(s not in FINAL for s in status.values())
    return stuck, dict(Counter(status.values()))
