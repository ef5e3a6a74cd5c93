"""Publish an upload as it is (no build): the platform's half of ``buildspace deploy``.

The API has admitted every blob of the upload into the content-addressed store and
appended ``DeploymentRequested``; the worker then runs ``publish_upload``
(``builder.prebuilt_runner``) in its event loop, on the process's ``AsyncBucket``
(nothing waits on S3 in a thread), which writes the deployment's manifest the way a build's
publish would: content types from the paths, the site configuration
from the upload's ``buildspace.json``, ``_redirects`` and ``_headers`` (read, never
served), and gzip and brotli variants of the compressible files.

Variants are made here rather than by the client, so every deployment is compressed the
same way whatever uploaded it, and a client cannot serve other bytes to the browsers
that accept compression than to those that do not. What was made for a blob is
remembered at ``variants_key(sha256)``, so a redeploy compresses nothing again.
Compression and the configuration's parsing, CPU work, run in threads.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from builder.collect import CompressedFile, OutputFile
from builder.content_types import content_type
from builder.publish import Blob, Published, build_manifest
from builder.site_config import (
    CONFIG_FILE,
    MAX_CONFIG,
    NETLIFY_FILES,
    read_site_config,
    served_files,
)
from builder.site_rules import SiteConfigError
from builder.upload_source import SourceError, upload_record
from builder.variants import add_variants, compressible
from infra.async_object_store import AsyncBucket
from schemas.artifacts import Encoding, SiteConfig, blob_key, manifest_key
from schemas.builds import BuildSpec
from schemas.envelope import dumps
from schemas.uploads import UploadRecord, upload_key

WORKERS = 8  # S3 requests in flight per publication

T = TypeVar("T")
R = TypeVar("R")


def variants_key(sha256: str) -> str:
    return f"variants/{sha256[:2]}/{sha256}.json"


async def read_upload(store: AsyncBucket, spec: BuildSpec) -> UploadRecord:
    """The upload a deployment of uploaded files names, checked to be its project's."""
    assert spec.upload_id is not None
    try:
        raw = await store.get(upload_key(spec.upload_id))
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(f"upload {spec.upload_id} is not readable: "
                          f"{type(exc).__name__}") from None
    return upload_record(spec, raw)


async def upload_blob(store: AsyncBucket, file: Blob) -> bool:
    """Upload one blob unless present; True when it was uploaded."""
    if await store.size(blob_key(file.sha256)) is not None:
        return False
    await store.put_file(blob_key(file.sha256), file.source)
    return True


class _Publisher:
    """One ``publish_upload``: the files as ``OutputFile``s over a scratch directory
    where blobs are downloaded only when their bytes are needed."""

    def __init__(self, store: AsyncBucket, record: UploadRecord, scratch: Path) -> None:
        self.store, self.scratch = store, scratch
        self.limit = asyncio.Semaphore(WORKERS)
        (scratch / "blobs").mkdir()
        (scratch / "site").mkdir()
        self.files = [OutputFile(path, scratch / "blobs" / f.sha256, f.sha256, f.size,
                                 content_type(path)) for path, f in sorted(record.files.items())]

    async def each(self, fn: Callable[[T], Awaitable[R]], items: Iterable[T]) -> list[R]:
        """``fn`` of every item, at most WORKERS at a time, in the items' order."""
        async def one(item: T) -> R:
            async with self.limit:
                return await fn(item)
        return list(await asyncio.gather(*(one(item) for item in items)))

    async def fetch(self, file: OutputFile) -> OutputFile:
        if not file.source.exists():
            await self.store.download(blob_key(file.sha256), file.source)
        return file

    async def site_config(self) -> SiteConfig:
        site = self.scratch / "site"
        configs = []
        for file in self.files:
            if file.path in (CONFIG_FILE, *NETLIFY_FILES):
                if file.size > MAX_CONFIG:
                    raise SiteConfigError(f"{file.path} is larger than 1 MiB")
                await self.fetch(file)
                os.link(file.source, site / file.path)
                configs.append(replace(file, source=site / file.path))
        return await asyncio.to_thread(read_site_config, site, site, configs, None)

    async def with_variants(self, files: list[OutputFile]) -> list[OutputFile]:
        todo = list({f.sha256: f for f in files
                     if compressible(f.content_type, f.size)}.values())
        known = dict(zip((f.sha256 for f in todo), await self.each(self.known_variants, todo),
                         strict=True))
        fresh = [f for f in todo if known[f.sha256] is None]
        await self.each(self.fetch, fresh)
        made = await asyncio.to_thread(add_variants, fresh, self.scratch / "variants")
        await self.each(self.store_variants, made)
        by_sha = {f.sha256: f.variants for f in made} | {
            sha: v for sha, v in known.items() if v is not None}
        return [replace(f, variants=by_sha.get(f.sha256, ())) for f in files]

    async def known_variants(self, file: OutputFile) -> tuple[CompressedFile, ...] | None:
        raw = await self.store.get(variants_key(file.sha256))
        if raw is None:
            return None
        index: dict[Encoding, dict[str, Any]] = orjson.loads(raw)
        made = tuple(CompressedFile(enc, Path(os.devnull), v["sha256"], v["size"])
                     for enc, v in index.items())
        # Blobs of deleted projects are collected (``streams.artifact_gc``): trust the
        # index only while its variants are stored.
        sizes = [await self.store.size(blob_key(v.sha256)) for v in made]
        return made if sizes == [v.size for v in made] else None

    async def store_variants(self, file: OutputFile) -> None:
        """Upload each new variant blob, then the index that names them."""
        for variant in file.variants:
            await upload_blob(self.store, variant)
        index = {v.encoding: {"sha256": v.sha256, "size": v.size} for v in file.variants}
        await self.store.put(variants_key(file.sha256), orjson.dumps(index))


async def publish_upload(store: AsyncBucket, deployment_id: str, record: UploadRecord
                         ) -> Published:
    """Write the manifest of a deployment of ``record``'s files, served as they are
    (every blob must be stored). ``SiteConfigError`` for a malformed configuration.
    Its ``uploaded_blobs`` are those the client sent for this upload."""
    with tempfile.TemporaryDirectory(prefix="buildspace-upload-") as tmp:
        publisher = _Publisher(store, record, Path(tmp))
        site = await publisher.site_config()
        served = served_files(publisher.files, Path(tmp, "site"), Path(tmp, "site"))
        files = await publisher.with_variants(served)
    manifest = build_manifest(deployment_id, files, site)
    await store.put(manifest_key(deployment_id), dumps(manifest))
    distinct = {f.sha256 for f in files}
    return Published(len(files), sum(f.size for f in files), len(record.staged), len(distinct))
