"""What the chaos scenario sees from outside: a client that retries each command with
one ``Idempotency-Key`` until it gets a 2xx (counting a command accepted only then),
and a poller of a site the edge served before the kills."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.platform import Platform

RETRIED = (httpx.TransportError,)  # connection refused/reset, timeouts


@dataclass
class Command:
    method: str
    path: str
    body: Any
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0
    answer: dict[str, Any] | None = None  # the 2xx body: accepted


class RetryingClient:
    """Sends each command until a 2xx, or gives up at ``deadline`` seconds."""

    def __init__(self, platform: Platform, deadline: float = 180) -> None:
        self.platform, self.deadline = platform, deadline
        self.sent: list[Command] = []
        self._token: str | None = None

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._until(lambda: self.platform.login())
        return {"Authorization": f"Bearer {self._token}"}

    def _until(self, attempt: Any) -> Any:
        end = time.monotonic() + self.deadline
        while True:
            try:
                return attempt()
            except (*RETRIED, AssertionError):
                if time.monotonic() > end:
                    raise
                time.sleep(0.3)

    def send(self, method: str, path: str, body: Any = None) -> Command:
        command = Command(method, path, body)
        self.sent.append(command)
        end = time.monotonic() + self.deadline
        while command.answer is None and time.monotonic() < end:
            command.attempts += 1
            try:
                r = httpx.request(method, self.platform.api + path, json=body, timeout=15,
                                  headers=self._auth() | {"Idempotency-Key": command.key})
            except RETRIED:
                time.sleep(0.3)
                continue
            if r.is_success:
                command.answer = r.json()
            elif r.status_code >= 500 or r.status_code in (409, 429):  # 409: in flight
                time.sleep(0.3)
            else:
                raise AssertionError(f"{method} {path} refused: {r.status_code} {r.text}")
        return command

    def get(self, path: str, **params: Any) -> Any:
        def once() -> Any:
            r = httpx.get(self.platform.api + path, params=params, headers=self._auth(),
                          timeout=15)
            assert r.status_code == 200, r.text
            return r.json()
        return self._until(once)


class SitePoller(threading.Thread):
    """GETs ``host`` from the edge over a new connection every ``interval`` s; a
    request that fails is tried once more (another connection reaches the other edge
    process when one was killed). Keeps the times of requests that failed twice."""

    def __init__(self, platform: Platform, host: str, body: str, interval: float = 0.1):
        super().__init__(daemon=True)
        self.platform, self.host, self.body, self.interval = platform, host, body, interval
        self.requests, self.retried, self.failures = 0, 0, list[float]()
        self._done = threading.Event()

    def _ok(self) -> bool:
        try:
            r = httpx.get(self.platform.edge, headers={"Host": self.host}, timeout=5)
        except httpx.TransportError:
            return False
        return r.status_code == 200 and r.text == self.body

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.requests += 1
            if self._ok():
                continue
            self.retried += 1
            if not self._ok():
                self.failures.append(time.monotonic())

    def stop(self) -> None:
        self._done.set()
        self.join()
