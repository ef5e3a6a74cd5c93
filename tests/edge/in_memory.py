"""The edge's request handling in-process, on one deployment held in memory (no object
store, no routes topic): for tests of pure request behaviour."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from edge.request import Request
from edge.responses import Response
from edge.site import Sites
from edge.store import ArtifactStore
from schemas.artifacts import Manifest, ManifestEntry
from schemas.routes import Route

ROUTE = Route(hostname="site", project_id="p-site", deployment_id="dep-site", number=1)


class MemoryStore(ArtifactStore):
    """One manifest and its blobs, in memory."""

    def __init__(self, manifest: Manifest, bodies: dict[str, bytes]) -> None:
        self._manifest, self._bodies = manifest, bodies

    async def manifest(self, deployment_id: str) -> Manifest | None:
        return self._manifest

    async def blob(self, sha256: str) -> bytes:
        return self._bodies[sha256]


def deployment(files: dict[str, bytes], published_at: datetime | None = None
               ) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest of ``files`` (path -> body) and its blobs by sha256."""
    entries, bodies = {}, {}
    for key, body in files.items():
        sha = hashlib.sha256(body).hexdigest()
        entries[key] = ManifestEntry(sha256=sha, size=len(body), content_type="text/plain")
        bodies[sha] = body
    manifest = Manifest(deployment_id=ROUTE.deployment_id, files=entries,
                        published_at=published_at)
    return manifest, bodies


async def serve(manifest: Manifest, bodies: dict[str, bytes], raw_path: bytes,
          headers: Sequence[tuple[bytes, bytes]] = ()) -> Response:
    """The edge's answer to a GET of ``raw_path`` (bytes as on the request line)."""
    scope = {"method": "GET", "raw_path": raw_path, "path": "/", "query_string": b"",
             "headers": list(headers)}
    return await Request(MemoryStore(manifest, bodies), Sites(), scope, ROUTE).serve()
