"""The client side of deploying a local directory (``buildspace deploy``) once its
files are hashed (``infra.deploy_files``): ask the API which blobs it lacks, upload only
those to their presigned URLs (with a progress bar), deploy the upload and follow it
until it is final.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TextIO

import httpx

from infra.blob_put import StoreRefused, put_file
from infra.deploy_files import DeployError, LocalFile
from schemas.commands import subdomain_for

WORKERS = 8  # blobs uploaded at once
FINAL = ("READY", "FAILED", "CANCELED")


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class Progress:
    """A plain-text bar on ``out``: redrawn in place on a terminal, else a line at the
    start and at the end."""

    WIDTH = 30

    def __init__(self, total_bytes: int, count: int, out: TextIO = sys.stderr) -> None:
        self.total, self.count, self.out = max(total_bytes, 1), count, out
        self.done_bytes = self.done = 0
        self.tty = out.isatty()
        self.drawn = 0.0

    def advance(self, size: int) -> None:
        self.done_bytes += size
        self.done += 1
        if self.tty and (time.monotonic() - self.drawn > 0.1 or self.done == self.count):
            self.draw("\r")
            self.drawn = time.monotonic()

    def draw(self, start: str = "", end: str = "") -> None:
        filled = int(self.WIDTH * self.done_bytes / self.total)
        self.out.write(f"{start}[{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                       f"{self.done}/{self.count} blobs  {human_size(self.done_bytes)} / "
                       f"{human_size(self.total)}{end}")
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\n")
        else:
            self.draw(end="\n")
        self.out.flush()


class Api:
    """The platform's HTTP API; every failure is a ``DeployError`` in words."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None,
                 token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        signed = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base_url, timeout=120, transport=transport,
                                 headers=signed)
        self.store = httpx.Client(timeout=600, transport=transport)

    def close(self) -> None:
        self.http.close()
        self.store.close()

    def call(self, method: str, path: str, ok: tuple[int, ...] = (200, 201, 202),
             **kw: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise DeployError(f"cannot reach the API at {self.base_url}: {exc}") from None
        if response.status_code == 401:
            raise DeployError(f"the API wants a valid token ({_message(response)}): set "
                              "BUILDSPACE_TOKEN or pass --token (make one with POST /v1/tokens)")
        if response.status_code not in ok:
            raise DeployError(f"{method} {path}: {response.status_code} {_message(response)}")
        return response

    def project(self, project_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/projects/{project_id}").json()  # type: ignore[no-any-return]

    def project_named(self, name: str, team_id: str | None = None) -> dict[str, Any]:
        """The project of that name (or subdomain), created when there is none (in
        ``team_id``, else the token's or the caller's personal team)."""
        wanted, offset = subdomain_for(name), 0
        while True:
            page = self.call("GET", "/v1/projects", params={"limit": 100,
                                                            "offset": offset}).json()
            for project in page:
                if project["name"] == name or project["subdomain"] == wanted:
                    return project  # type: ignore[no-any-return]
            if len(page) < 100:
                break
            offset += 100
        params = {"team_id": team_id} if team_id else {}
        return self.call("POST", "/v1/projects", json={"name": name},  # type: ignore[no-any-return]
                         params=params).json()

    def create_upload(self, project_id: str, files: list[LocalFile]) -> dict[str, Any]:
        body = {"files": {f.path: {"sha256": f.sha256, "size": f.size} for f in files}}
        return self.call("POST", f"/v1/projects/{project_id}/uploads", json=body).json()  # type: ignore[no-any-return]

    def upload(self, grant: dict[str, Any], file: LocalFile) -> None:
        try:
            put_file(self.store, grant["url"], grant["headers"], file.source, file.path,
                     follow_symlinks=True)
        except StoreRefused as exc:
            raise DeployError(str(exc)) from None

    def upload_missing(self, missing: list[dict[str, Any]], files: list[LocalFile],
                       progress: Progress, workers: int = WORKERS) -> None:
        by_sha = {f.sha256: f for f in files}

        def send(grant: dict[str, Any]) -> None:
            file = by_sha[grant["sha256"]]
            self.upload(grant, file)
            progress.advance(file.size)
        with ThreadPoolExecutor(workers, thread_name_prefix="upload") as pool:
            list(pool.map(send, missing))

    def deploy(self, project_id: str, upload_id: str, build: bool, target: str
               ) -> dict[str, Any]:
        return self.call("POST", f"/v1/projects/{project_id}/uploads/{upload_id}/deploy",  # type: ignore[no-any-return]
                         json={"build": build, "target": target}).json()

    def follow(self, deployment_id: str, timeout: float, on_line: Callable[[str], None],
               interval: float = 0.5) -> dict[str, Any]:
        """Poll the deployment until it is final (printing its new log lines); the last
        state seen when ``timeout`` runs out."""
        deadline, after = time.monotonic() + timeout, 0
        while True:
            state: dict[str, Any] = self.call("GET", f"/v1/deployments/{deployment_id}").json()
            for line in self._lines(deployment_id, after):
                after = line["seq"]
                on_line(line["plain"])
            if state["status"] in FINAL or time.monotonic() > deadline:
                return state
            time.sleep(interval)

    def _lines(self, deployment_id: str, after: int) -> Iterator[dict[str, Any]]:
        response = self.call("GET", f"/v1/deployments/{deployment_id}/logs",
                             params={"after_seq": after, "limit": 1000}, ok=(200, 404, 503))
        if response.status_code == 200:
            yield from response.json()["lines"]


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300]
    fields = error.get("fields") or []
    where = f" ({fields[0]['field']})" if fields and fields[0].get("field") else ""
    return f"{error.get('message', '')}{where}"
