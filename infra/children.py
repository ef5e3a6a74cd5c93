"""The processes ``buildspace up`` supervises (``infra.supervisor``): a role process
(``buildspace <roles>``, told its settings through BUILDSPACE_* variables, reporting
ready through a pipe) and the embedded Kafka broker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import orjson
from prometheus_client import multiprocess
from pydantic import SecretStr

from infra.broker import KafkaBroker
from infra.embedded import _die_with_parent
from infra.settings import Settings

READY_FD = "BUILDSPACE_READY_FD"


def notify_ready() -> None:
    """Tell the supervisor (if there is one) that this role process serves."""
    fd = os.environ.pop(READY_FD, None)
    if fd:
        with contextlib.suppress(OSError):
            os.write(int(fd), b"ready\n")
            os.close(int(fd))


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the BUILDSPACE_* variables a child reads them back from."""
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        text = str(value) if isinstance(value, str | Path) else orjson.dumps(value).decode()
        env[f"BUILDSPACE_{name.upper()}"] = text
    return env


def describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class RoleProcess:
    """One role process: ``spawn()`` starts it; ``ready`` turns true once it serves."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str],
                 metrics_dir: Path | None = None) -> None:
        self.label, self.argv, self.env = label, argv, env
        self.metrics_dir = metrics_dir
        if metrics_dir is not None:  # read when prometheus_client is imported
            self.env = env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        self._ready_fd: int | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, "spawn() first"
        return self.proc.pid

    def spawn(self) -> None:
        self._close_ready()
        read, write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self.env | {READY_FD: str(write)}, pass_fds=(write,),
                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            os.close(write)
        os.set_blocking(read, False)
        self._ready_fd, self.ready = read, False

    def poll(self) -> int | None:
        """The exit code once it exited; notices it got ready, meanwhile."""
        if self._ready_fd is not None:
            self._read_ready()
        return None if self.proc is None else self.proc.poll()

    def _read_ready(self) -> None:
        assert self._ready_fd is not None
        try:
            said = os.read(self._ready_fd, 64)
        except BlockingIOError:
            return
        self.ready = b"ready" in said
        self._close_ready()

    def _close_ready(self) -> None:
        if self._ready_fd is not None:
            os.close(self._ready_fd)
            self._ready_fd = None

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def forget_metrics(self) -> None:
        """Drop the live gauges of the exited process (its counters stay in the sums)."""
        if self.metrics_dir is not None and self.proc is not None:
            multiprocess.mark_process_dead(self.proc.pid, str(self.metrics_dir))

    def sweep(self) -> None:
        """Reap it, then SIGKILL whatever is left in its process group (it leads one of
        its own)."""
        self._close_ready()
        if self.proc is not None:
            self.proc.wait()
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)


class BrokerProcess:
    """The embedded Kafka broker, restarted on the same data dir and ports."""

    label = "kafka"

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    @property
    def pid(self) -> int:
        assert self.broker.child is not None
        return self.broker.child.proc.pid

    def poll(self) -> int | None:
        return None if self.broker.child is None else self.broker.child.proc.poll()

    def spawn(self) -> None:
        self.broker.stop()  # closes the dead one's log
        self.broker.start()
