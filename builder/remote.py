"""Build through the API with a build grant, for builders that hold no platform
credentials (ECS tasks): ``fetch_spec`` gets the build spec, build variables included,
from ``/v1/builds/{deployment_id}/spec``; ``HttpEmitter`` sends log lines, heartbeats and
status events to ``/v1/builds/{deployment_id}/…``; ``RemotePublisher`` asks which blobs
the store lacks, uploads them to the presigned URLs it gets, then stores the manifest.

Same guarantees as ``builder.emitter`` and ``builder.publish``: lines numbered and sent
in order, batched but never held more than ``LINGER_S``; a status event only after every
line before it was accepted; the manifest only after every blob is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from builder.batching import LineBatcher
from builder.build_failed import BuildFailed
from builder.collect import OutputFile
from builder.publish import Blob, Published, build_manifest, distinct_blobs
from infra.blob_put import StoreRefused, delays, put_file
from infra.settings import Settings
from schemas.artifacts import SiteConfig
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, dumps
from schemas.logs import BuildHeartbeat, BuildLogAppended, LogLine

log = logging.getLogger("buildspace.builder")
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines show presigned URLs
RETRY_DELAYS_S = (0.2, 1.0, 3.0)
RETRY_STATUSES = frozenset({429, 502, 503, 504})
JSON = {"Content-Type": "application/json"}
QUERY_CHUNK = 200  # blobs per /blobs request: their URLs are used before they expire
WORKERS = 8


class ReportRejected(Exception):
    """The API did not accept what the builder reported."""


@dataclass(frozen=True)
class RemoteTarget:
    """Where a build reports: the API's public URL and the deployment's grant."""

    api_url: str
    grant: str

    def base_url(self, deployment_id: str) -> str:
        return f"{self.api_url.rstrip('/')}/v1/builds/{quote(deployment_id, safe='')}/"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.grant}"}


def _failure(path: str, response: httpx.Response) -> ReportRejected:
    return ReportRejected(f"the API refused {path}: {response.status_code} {response.text[:300]}")


def _delays() -> Iterator[float | None]:
    return delays(RETRY_DELAYS_S)


def fetch_spec(target: RemoteTarget, deployment_id: str,
               transport: httpx.BaseTransport | None = None) -> BuildSpec:
    """The spec of the build of ``deployment_id``, build variables included, as the API
    hands it to the grant's holder while the build runs; retried while the API or the
    network is briefly unavailable. ``ReportRejected`` says why there is none."""
    with httpx.Client(base_url=target.base_url(deployment_id), headers=target.headers,
                      timeout=30, transport=transport) as api:
        response = _get_retrying(api, "spec")
    try:
        spec = BuildSpec.model_validate_json(response.content)
    except ValidationError as exc:
        raise ReportRejected(f"the API sent an invalid build spec: {exc}") from None
    if spec.deployment_id != deployment_id:
        raise ReportRejected(f"the API sent the spec of deployment {spec.deployment_id}")
    return spec


def _get_retrying(api: httpx.Client, path: str) -> httpx.Response:
    for delay in _delays():
        try:
            response = api.get(path)
        except httpx.TransportError as exc:
            if delay is None:
                raise ReportRejected(f"the API did not answer {path}: {exc!r}") from None
        else:
            if response.is_success:
                return response
            if delay is None or not _transient(response.status_code):
                raise _failure(path, response)
        time.sleep(delay)
    raise AssertionError("unreachable")  # _delays() ends with None, which returns or raises


def _transient(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


class HttpEmitter(LineBatcher):
    """The ``Emitter`` of a build with only a grant: the API appends what it sends."""

    def __init__(self, settings: Settings, spec: BuildSpec, target: RemoteTarget,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(settings, spec)
        self._sent_seq = 0  # the last line the API accepted
        self._client = httpx.AsyncClient(base_url=target.base_url(spec.deployment_id),
                                         headers=target.headers, timeout=30,
                                         transport=transport)

    async def __aenter__(self) -> HttpEmitter:
        self._start_beating()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stop_beating()
            await self.flush()
        finally:
            await self._client.aclose()

    async def publish(self, event: Envelope) -> None:
        """Send a status event after every line before it has been accepted."""
        await self.flush()
        await self._post("events", dumps(event))
        log.info("reported %s %s", event.type, event.event_id)

    async def _deliver(self, lines: list[LogLine]) -> None:
        await self._post("logs", dumps(BuildLogAppended(
            **self._ids(self.spec.deployment_id), lines=lines)))
        self._sent_seq = lines[-1].seq

    async def _heartbeat(self) -> None:
        """Also while the build prints nothing; pending lines follow within ``LINGER_S``,
        so ``last_seq`` is the last line accepted."""
        beat = BuildHeartbeat(**self._ids(self.spec.deployment_id), last_seq=self._sent_seq)
        try:
            await self._post("logs", dumps(beat))
        except ReportRejected as exc:  # the watchdog fails the build if this persists
            log.warning("heartbeat not accepted: %s", exc)

    def _ids(self, stream_id: str) -> dict[str, Any]:
        spec = self.spec
        return {"stream_id": stream_id, "project_id": spec.project_id,
                "deployment_id": spec.deployment_id, "causation_id": spec.correlation_id,
                "correlation_id": spec.correlation_id}

    async def _post(self, path: str, body: bytes) -> None:
        """POST, retrying while the API or the network is briefly unavailable."""
        for delay in _delays():
            try:
                response = await self._client.post(path, content=body, headers=JSON)
            except httpx.TransportError as exc:
                if delay is None:
                    raise ReportRejected(f"the API did not answer {path}: {exc!r}") from None
            else:
                if response.is_success:
                    return
                if delay is None or response.status_code not in RETRY_STATUSES:
                    raise _failure(path, response)
            await asyncio.sleep(delay)


class RemotePublisher:
    """``publish`` through the API: blobs to presigned URLs, then the manifest."""

    def __init__(self, target: RemoteTarget, transport: httpx.BaseTransport | None = None,
                 workers: int = WORKERS) -> None:
        self.target, self.transport, self.workers = target, transport, workers

    def __call__(self, deployment_id: str, files: list[OutputFile],
                 site: SiteConfig | None = None) -> Published:
        try:
            return self._publish(deployment_id, files, site)
        except (httpx.HTTPError, ReportRejected, OSError) as exc:
            raise BuildFailed(f"could not upload the output: {exc}") from None

    def _publish(self, deployment_id: str, files: list[OutputFile],
                 site: SiteConfig | None) -> Published:
        distinct = distinct_blobs(files)
        with self._client(deployment_id) as api, httpx.Client(
                timeout=300, transport=self.transport) as store:
            uploaded = sum(self._upload_missing(api, store, distinct[start:start + QUERY_CHUNK])
                           for start in range(0, len(distinct), QUERY_CHUNK))
            manifest = dumps(build_manifest(deployment_id, files, site))
            _check(api.put("manifest", content=manifest, headers=JSON), "manifest")
        return Published(len(files), sum(f.size for f in files), uploaded, len(distinct))

    def _upload_missing(self, api: httpx.Client, store: httpx.Client,
                        files: list[Blob]) -> int:
        """Upload those of ``files`` the store lacks; how many that was."""
        by_sha = {f.sha256: f for f in files}
        response = _check(api.post("blobs", json={"sha256": list(by_sha)}), "blobs")
        grants: list[dict[str, Any]] = response.json()["upload"]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="publish") as pool:
            list(pool.map(lambda g: upload(store, by_sha[g["sha256"]], g), grants))
        return len(grants)

    def _client(self, deployment_id: str) -> httpx.Client:
        return httpx.Client(base_url=self.target.base_url(deployment_id), timeout=60,
                            headers=self.target.headers, transport=self.transport)


def _check(response: httpx.Response, path: str) -> httpx.Response:
    if not response.is_success:
        raise _failure(path, response)
    return response


def upload(store: httpx.Client, file: Blob, grant: dict[str, Any]) -> None:
    """PUT one blob to its presigned URL, with the headers the URL was signed for."""
    try:
        put_file(store, grant["url"], grant["headers"], file.source, f"blob {file.sha256}",
                 RETRY_DELAYS_S)
    except StoreRefused as exc:
        raise ReportRejected(str(exc)) from None
