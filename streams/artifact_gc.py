"""Collect the artifacts of deleted projects, in the worker role.

A project deleted more than ``deleted_retention_hours`` ago loses its deployments'
manifests and every blob (compressed variants included) that no other manifest in the
bucket references: the manifests of live projects, and of deleted projects still in
their retention window, keep what they use. What was collected is recorded in
``artifact_collections``; a project recorded there is done.

Safe to run anywhere and again: one worker at a time holds the advisory lock; blobs are
deleted before manifests, so a run stopped halfway finds the same work next time. A
build publishing while blobs are deleted could skip uploading a blob it saw (content
addressing), so nothing is collected while any build is running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
from botocore.exceptions import ClientError
from pydantic import ValidationError

from infra.async_object_store import AsyncBucket
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key

log = logging.getLogger("buildspace.gc")
LOCK = 7262022

SCHEMA = """
CREATE TABLE IF NOT EXISTS artifact_collections (
    project_id text PRIMARY KEY,
    collected_at timestamptz NOT NULL DEFAULT now(),
    deployments integer NOT NULL,
    manifests integer NOT NULL,
    blobs_deleted integer NOT NULL,
    blobs_kept integer NOT NULL
);
"""


@dataclass(frozen=True)
class Collected:
    manifests: list[str]
    blobs_deleted: list[str]
    blobs_kept: int


def blobs_of(manifest: Manifest) -> set[str]:
    return {sha for entry in manifest.files.values() for sha, _ in entry.blobs()}


def unreferenced(doomed: Iterable[Manifest], live: Iterable[Manifest]) -> tuple[set[str], int]:
    """(the blobs only ``doomed`` manifests use, how many of theirs are kept)."""
    theirs: set[str] = set().union(*(blobs_of(m) for m in doomed))
    used: set[str] = set().union(*(blobs_of(m) for m in live))
    return theirs - used, len(theirs & used)


class ArtifactStore:
    """The bucket's manifests and blobs, read and deleted without blocking the loop."""

    def __init__(self, bucket: AsyncBucket) -> None:
        self.bucket = bucket

    async def manifest_ids(self) -> list[str]:
        return [k.removeprefix("manifests/").removesuffix(".json")
                for k in await self.bucket.keys("manifests/") if k.endswith(".json")]

    async def manifest(self, deployment_id: str) -> Manifest | None:
        raw = await self.bucket.get(manifest_key(deployment_id))
        # A manifest may list 100,000 files: parsed off the loop.
        return None if raw is None else await asyncio.to_thread(Manifest.model_validate_json,
                                                                raw)

    async def manifests(self, deployment_ids: Iterable[str]) -> list[Manifest]:
        found = [await self.manifest(d) for d in deployment_ids]
        return [m for m in found if m is not None]

    async def delete(self, keys: list[str]) -> None:
        await self.bucket.delete_many(keys)

    async def collect(self, deployments: set[str]) -> Collected:
        """Delete ``deployments``' manifests and the blobs no other manifest uses."""
        doomed = await self.manifests(sorted(deployments))
        live = await self.manifests(d for d in await self.manifest_ids() if d not in deployments)
        blobs, kept = unreferenced(doomed, live)
        await self.delete([blob_key(sha) for sha in sorted(blobs)])
        await self.delete([manifest_key(d) for d in sorted(deployments)])
        return Collected([m.deployment_id for m in doomed], sorted(blobs), kept)


class ArtifactCollector:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, store: ArtifactStore) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store

    async def collect(self) -> None:
        """One pass: collect every deleted project past its retention, if no build runs."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK):
                return
            try:
                await self._collect(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK)

    async def _collect(self, conn: asyncpg.Connection) -> None:
        due = await conn.fetch(
            "SELECT p.project_id FROM projects p WHERE p.deleted_at IS NOT NULL "
            "AND p.deleted_at <= now() - make_interval(secs => $1) AND NOT EXISTS "
            "(SELECT 1 FROM artifact_collections c WHERE c.project_id = p.project_id) "
            "ORDER BY p.deleted_at", self.settings.deleted_retention_hours * 3600)
        if not due or await conn.fetchval(
                "SELECT count(*) FROM build_queue WHERE state = 'running'"):
            return
        for row in due:
            await self._collect_project(conn, row[0])

    async def _collect_project(self, conn: asyncpg.Connection, project_id: str) -> None:
        ids = {r[0] for r in await conn.fetch(
            "SELECT deployment_id FROM deployments WHERE project_id = $1", project_id)}
        try:
            done = await self.store.collect(ids)
        except (ClientError, ValidationError) as exc:
            log.warning("collecting project %s failed, retried later: %s", project_id, exc)
            return
        await conn.execute(
            "INSERT INTO artifact_collections (project_id, deployments, manifests, "
            "blobs_deleted, blobs_kept) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            project_id, len(ids), len(done.manifests), len(done.blobs_deleted),
            done.blobs_kept)
        log.info("collected project %s: %d manifests, %d blobs deleted, %d kept (shared)",
                 project_id, len(done.manifests), len(done.blobs_deleted), done.blobs_kept)


def register_collector(app: Any, settings: Settings, pool: asyncpg.Pool,
                       bucket: AsyncBucket) -> ArtifactCollector:
    collector = ArtifactCollector(settings, pool, ArtifactStore(bucket))
    app.timer(interval=settings.artifact_gc_interval_seconds,
              name="collect_artifacts")(collector.collect)
    return collector
