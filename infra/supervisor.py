"""``buildspace up`` after the embedded services started: one process per role, as
production runs them, supervised.

- The API and the worker share a process when ClickHouse is chdb (one process per data
  dir); with a ClickHouse server they run apart. The edge runs as ``edge_processes``
  processes (default: one per CPU) sharing its port with SO_REUSEPORT.
- Each child is ``buildspace <roles>`` with the resolved settings in BUILDSPACE_*
  variables; its output goes to this process's stdout and stderr. It dies with this
  process (PR_SET_PDEATHSIG) and reports ready through a pipe (``notify_ready``).
- A child that dies, or the embedded Kafka broker, is restarted with exponential
  backoff; the death and the restart are logged.
- SIGINT or SIGTERM stops the roles (SIGTERM, then SIGKILL after a grace period); the
  caller stops the services after.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.broker import KafkaBroker
from infra.children import BrokerProcess, RoleProcess, describe, settings_env
from infra.embedded import StartupError, free_port
from infra.ports import check_ports, role_ports
from infra.settings import Settings

log = logging.getLogger("buildspace.supervisor")
TICK = 0.1  # how often children are looked at
GRACE = 20.0  # seconds a role gets to stop on SIGTERM


class StartFailed(StartupError):
    """A role process could not start; the message says which and why."""


def metrics_dir(settings: Settings, label: str) -> Path:
    """Where a role's processes keep their metrics, summed by any one of them on a
    scrape: one folder per role, so no role reports another's."""
    role = "edge" if label.startswith("edge") else label.replace("+worker", "")
    return settings.data_path / "metrics" / role


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)  # an earlier run's files would be summed
    folder.mkdir(parents=True)
    return folder


def process_roles(settings: Settings) -> list[tuple[str, list[str]]]:
    """(label, roles) of every role process."""
    if (settings.clickhouse_dsn or "chdb://").startswith("chdb://"):
        control = [("api+worker", ["api", "worker"])]
    else:
        control = [("api", ["api"]), ("worker", ["worker"])]
    edges = settings.edge_processes or os.cpu_count() or 1
    return control + [(f"edge-{n}", ["edge"]) for n in range(1, edges + 1)]


class Backoff:
    """0.5 s doubling to 30 s between restarts; reset once a process ran 60 s."""

    def __init__(self, first: float = 0.5, cap: float = 30.0, steady: float = 60.0) -> None:
        self.first, self.cap, self.steady = first, cap, steady
        self.delay = first

    def next(self, ran_for: float) -> float:
        if ran_for >= self.steady:
            self.delay = self.first
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        return delay


class Watch:
    """Restarts one process with backoff when it dies."""

    def __init__(self, process: RoleProcess | BrokerProcess) -> None:
        self.process = process
        self.backoff = Backoff()
        self.started = time.monotonic()
        self.restart_at: float | None = None

    def tend(self, now: float) -> None:
        if self.restart_at is None:
            code = self.process.poll()
            if code is not None:
                self._died(code, now)
        elif now >= self.restart_at:
            self._restart(now)

    def _died(self, code: int, now: float) -> None:
        if isinstance(self.process, RoleProcess):
            self.process.forget_metrics()
        delay = self.backoff.next(now - self.started)
        log.error("%s (pid %d) died: %s; restarting in %.1f s", self.process.label,
                  self.process.pid, describe(code), delay)
        self.restart_at = now + delay

    def _restart(self, now: float) -> None:
        self.started, self.restart_at = now, None
        try:
            self.process.spawn()
        except Exception as exc:  # e.g. the broker did not come back: try again later
            log.error("%s could not restart: %s", self.process.label, exc)
            self.restart_at = now + self.backoff.next(0)
            return
        log.warning("%s restarted (pid %d)", self.process.label, self.process.pid)


class Supervisor:
    """The role processes of ``buildspace up`` (and the broker, if it is embedded)."""

    def __init__(self, settings: Settings, broker: KafkaBroker | None = None,
                 verbose: bool = False) -> None:
        self.settings = with_fixed_ports(settings)
        env = os.environ | settings_env(self.settings) | {"PYTHONUNBUFFERED": "1"}
        flags = ["-v"] if verbose else []
        labels = process_roles(self.settings)
        folders = {metrics_dir(self.settings, label) for label, _ in labels}
        for folder in folders:
            fresh(folder)
        cli = [sys.executable, "-m", "infra.compose.cli"]
        self.roles = [RoleProcess(label, [*cli, *roles, *flags], env,
                                  metrics_dir(self.settings, label))
                      for label, roles in labels]
        self.watches = [Watch(role) for role in self.roles]
        if broker is not None:
            self.watches.append(Watch(BrokerProcess(broker)))
        self.stopping = False

    def run(self, announce: Callable[[Settings, int], None]) -> None:
        """Until SIGINT or SIGTERM; raises ``StartupError`` if a role cannot start."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        try:
            self._start()
            if not self.stopping:
                edges = sum(role.label.startswith("edge") for role in self.roles)
                announce(self.settings, edges)
            while not self.stopping:
                now = time.monotonic()
                for watch in self.watches:
                    watch.tend(now)
                time.sleep(TICK)
            print("Stopping…", flush=True)
        finally:
            self.stop()

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def _start(self) -> None:
        check_ports(self.settings)  # again: the embedded services took a while
        for role in self.roles:
            role.spawn()
            log.info("%s started (pid %d)", role.label, role.pid)
        while not self.stopping and not all(role.ready for role in self.roles):
            for role in self.roles:
                code = role.poll()
                if code is not None:
                    raise StartFailed(f"the {role.label} process exited while starting "
                                      f"({describe(code)}); its error is above")
            time.sleep(TICK)

    def stop(self) -> None:
        """SIGTERM every role, SIGKILL those still running after the grace period."""
        spawned = [role for role in self.roles if role.proc is not None]
        for role in spawned:
            role.signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while any(r.poll() is None for r in spawned) and time.monotonic() < deadline:
            time.sleep(TICK)
        for role in spawned:
            if role.poll() is None:
                log.warning("%s did not stop within %.0f s: killed", role.label, GRACE)
            role.signal(signal.SIGKILL)
            role.sweep()
            role.forget_metrics()


def with_fixed_ports(settings: Settings) -> Settings:
    """Port 0 picks a free port once, here: the edge processes must share one."""
    ports = {name: free_port() for name, (_, port) in role_ports(settings).items()
             if port == 0}
    return settings.model_copy(update=ports)
