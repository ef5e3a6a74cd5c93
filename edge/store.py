"""Read-only access to deployment artifacts for the edge, with two cache tiers.

Manifests and blobs are immutable (a manifest per deployment id, a blob per sha256), so
both are cached without expiry: hot ones in a byte-bounded memory LRU, all of them on
local disk under ``data_dir/edge-cache``. Object storage is read on a cold miss only,
through the process's ``AsyncBucket``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from edge.lru import ByteLRU
from edge.routes import DEPLOYMENT_ID
from infra.async_object_store import AsyncBucket
from infra.metrics import EDGE_CACHE_TALLY
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key

log = logging.getLogger(__name__)
T = TypeVar("T")
SHA256 = re.compile(r"[0-9a-f]{64}")
# Reads in flight to object storage per process: a burst of misses queues here, in
# order, instead of piling onto the store (as many as the sync client's threads were).
READS = 8


class ArtifactError(Exception):
    """An artifact could not be read: missing, corrupt, or storage unavailable."""


class ArtifactStore:
    """``manifest(deployment_id)`` and ``blob(sha256)``, cached in memory and on disk."""

    def __init__(
        self,
        settings: Settings,
        bucket: AsyncBucket,
        *,
        memory_bytes: int = 64 << 20,
        max_memory_blob: int = 4 << 20,
        manifest_bytes: int = 16 << 20,
    ) -> None:
        self._bucket = bucket
        self._dir = settings.data_path / "edge-cache"
        self._max_memory_blob = max_memory_blob
        self._blobs: ByteLRU[bytes] = ByteLRU(memory_bytes)
        self._manifests: ByteLRU[Manifest] = ByteLRU(manifest_bytes)
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._reads = asyncio.Semaphore(READS)

    async def manifest(self, deployment_id: str) -> Manifest | None:
        """The deployment's manifest, or None if it has none (or the id is not valid)."""
        if not DEPLOYMENT_ID.fullmatch(deployment_id):
            return None
        cached = self._manifests.get(deployment_id)
        if cached is not None:
            EDGE_CACHE_TALLY.add("manifest", "hit")
            return cached
        EDGE_CACHE_TALLY.add("manifest", "miss")
        loaded = await self._once(f"manifest:{deployment_id}", self._load_manifest, deployment_id)
        if loaded is not None:
            self._manifests.put(deployment_id, loaded[0], loaded[1])
            return loaded[0]
        return None

    async def blob(self, sha256: str) -> bytes:
        """The blob's bytes; raises ``ArtifactError`` if it is missing or corrupt."""
        if not SHA256.fullmatch(sha256):
            raise ArtifactError(f"not a sha256: {sha256!r}")
        cached = self._blobs.get(sha256)
        if cached is not None:
            EDGE_CACHE_TALLY.add("blob", "hit")
            return cached
        EDGE_CACHE_TALLY.add("blob", "miss")
        data = await self._once(f"blob:{sha256}", self._load_blob, sha256)
        if len(data) <= self._max_memory_blob:
            self._blobs.put(sha256, data, len(data))
        return data

    async def _once(self, key: str, load: Callable[[str], Awaitable[T]], arg: str) -> T:
        """Run ``load(arg)`` once for concurrent misses on ``key``."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(load(arg))
            self._inflight[key] = future
            future.add_done_callback(functools.partial(self._settled, key))
        # Shielded: a client going away must not cancel a load other requests wait for.
        return await asyncio.shield(future)  # type: ignore[no-any-return]

    def _settled(self, key: str, future: asyncio.Future[Any]) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled():
            future.exception()  # marks it retrieved even if every waiter went away

    # Disk and CPU work (reading the cache, parsing, hashing, writing) runs in a thread;
    # object storage is awaited on the loop.
    async def _load_manifest(self, deployment_id: str) -> tuple[Manifest, int] | None:
        path = self._dir / "manifests" / f"{deployment_id}.json"
        raw = await asyncio.to_thread(_read, path)
        if raw is not None:
            with contextlib.suppress(ArtifactError):  # unreadable cache: fetch again
                return await asyncio.to_thread(_parse_manifest, raw, deployment_id), len(raw)
        raw = await self._get(manifest_key(deployment_id))
        if raw is None:
            return None
        manifest = await asyncio.to_thread(_keep_manifest, path, raw, deployment_id)
        return manifest, len(raw)

    async def _load_blob(self, sha256: str) -> bytes:
        path = self._dir / "blobs" / sha256[:2] / sha256
        data = await asyncio.to_thread(_read, path)
        if data is not None:
            return data
        data = await self._get(blob_key(sha256))
        if data is None:
            raise ArtifactError(f"blob {sha256} is missing from object storage")
        await asyncio.to_thread(_keep_blob, path, data, sha256)
        return data

    async def _get(self, key: str) -> bytes | None:
        """The object's bytes, None if it does not exist."""
        try:
            async with self._reads:
                return await self._bucket.get(key)
        except ClientError as exc:
            raise ArtifactError(f"object storage refused {key}: {exc}") from None
        except BotoCoreError as exc:
            raise ArtifactError(f"object storage unavailable reading {key}: {exc}") from None


def _keep_manifest(path: Path, raw: bytes, deployment_id: str) -> Manifest:
    manifest = _parse_manifest(raw, deployment_id)
    _write_atomic(path, raw)
    return manifest


def _keep_blob(path: Path, data: bytes, sha256: str) -> None:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError(f"blob {sha256} is corrupt in object storage")
    _write_atomic(path, data)


def _parse_manifest(raw: bytes, deployment_id: str) -> Manifest:
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise ArtifactError(f"manifest of {deployment_id} is malformed: {exc}") from None
    if manifest.deployment_id != deployment_id:
        raise ArtifactError(f"manifest of {deployment_id} names {manifest.deployment_id}")
    return manifest


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write the cache file whole or not at all; a full disk only costs the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("edge cache: could not write %s: %s", path, exc)
