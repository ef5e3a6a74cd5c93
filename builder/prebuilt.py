"""Publish an upload as it is (no build): the platform's half of ``buildspace deploy``.

The API has admitted every blob of the upload into the content-addressed store and
appended ``DeploymentRequested``; the worker then runs ``publish_upload``
(``builder.prebuilt_runner``), which writes the deployment's manifest the way a build's
publish would: content types from the paths, the site configuration
from the upload's ``buildspace.json``, ``_redirects`` and ``_headers`` (read, never
served), and gzip and brotli variants of the compressible files.

Variants are made here rather than by the client, so every deployment is compressed the
same way whatever uploaded it, and a client cannot serve other bytes to the browsers
that accept compression than to those that do not. What was made for a blob is
remembered at ``variants_key(sha256)``, so a redeploy compresses nothing again.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from builder.collect import CompressedFile, OutputFile
from builder.content_types import content_type
from builder.publish import Published, build_manifest, upload_blob
from builder.site_config import (
    CONFIG_FILE,
    MAX_CONFIG,
    NETLIFY_FILES,
    read_site_config,
    served_files,
)
from builder.site_rules import SiteConfigError
from builder.variants import add_variants, compressible
from infra.object_store import Bucket
from schemas.artifacts import Encoding, blob_key, manifest_key
from schemas.envelope import dumps
from schemas.uploads import UploadRecord

WORKERS = 8


def variants_key(sha256: str) -> str:
    return f"variants/{sha256[:2]}/{sha256}.json"


def _download(store: Bucket, sha: str, dest: Path) -> Path:
    if not dest.exists():
        store.download(blob_key(sha), dest)
    return dest


class _Publisher:
    """One ``publish_upload``: the files as ``OutputFile``s over a scratch directory
    where blobs are downloaded only when their bytes are needed."""

    def __init__(self, store: Bucket, record: UploadRecord, scratch: Path) -> None:
        self.store, self.scratch = store, scratch
        (scratch / "blobs").mkdir()
        (scratch / "site").mkdir()
        self.files = [OutputFile(path, scratch / "blobs" / f.sha256, f.sha256, f.size,
                                 content_type(path)) for path, f in sorted(record.files.items())]

    def fetch(self, file: OutputFile) -> OutputFile:
        _download(self.store, file.sha256, file.source)
        return file

    def site_config(self) -> Any:
        site = self.scratch / "site"
        configs = []
        for file in self.files:
            if file.path in (CONFIG_FILE, *NETLIFY_FILES):
                if file.size > MAX_CONFIG:
                    raise SiteConfigError(f"{file.path} is larger than 1 MiB")
                self.fetch(file)
                os.link(file.source, site / file.path)
                configs.append(replace(file, source=site / file.path))
        return read_site_config(site, site, configs, None)

    def with_variants(self, files: list[OutputFile]) -> list[OutputFile]:
        todo = [f for f in files if compressible(f.content_type, f.size)]
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="variants") as pool:
            known = dict(zip((f.sha256 for f in todo), pool.map(self.known_variants, todo),
                             strict=True))
            fresh = [f for f in todo if known[f.sha256] is None]
            list(pool.map(self.fetch, {f.sha256: f for f in fresh}.values()))
        made = add_variants(fresh, self.scratch / "variants")
        self.store_variants({f.sha256: f for f in made}.values())
        by_sha = {f.sha256: f.variants for f in made} | {
            sha: v for sha, v in known.items() if v is not None}
        return [replace(f, variants=by_sha.get(f.sha256, ())) for f in files]

    def known_variants(self, file: OutputFile) -> tuple[CompressedFile, ...] | None:
        raw = self.store.get(variants_key(file.sha256))
        if raw is None:
            return None
        index: dict[Encoding, dict[str, Any]] = orjson.loads(raw)
        made = tuple(CompressedFile(enc, Path(os.devnull), v["sha256"], v["size"])
                     for enc, v in index.items())
        # Blobs of deleted projects are collected (``streams.artifact_gc``): trust the
        # index only while its variants are stored.
        stored = all(self.store.size(blob_key(v.sha256)) == v.size
                     for v in made)
        return made if stored else None

    def store_variants(self, files: Any) -> None:
        """Upload each new variant blob, then the index that names them."""
        def store(file: OutputFile) -> None:
            for variant in file.variants:
                upload_blob(self.store, variant)
            index = {v.encoding: {"sha256": v.sha256, "size": v.size} for v in file.variants}
            self.store.put(variants_key(file.sha256), orjson.dumps(index))
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="variants") as pool:
            list(pool.map(store, files))


def publish_upload(store: Bucket, deployment_id: str, record: UploadRecord) -> Published:
    """Write the manifest of a deployment of ``record``'s files, served as they are
    (every blob must be stored). ``SiteConfigError`` for a malformed configuration.
    Its ``uploaded_blobs`` are those the client sent for this upload."""
    with tempfile.TemporaryDirectory(prefix="buildspace-upload-") as tmp:
        publisher = _Publisher(store, record, Path(tmp))
        site = publisher.site_config()
        served = served_files(publisher.files, Path(tmp, "site"), Path(tmp, "site"))
        files = publisher.with_variants(served)
    manifest = build_manifest(deployment_id, files, site)
    store.put(manifest_key(deployment_id), dumps(manifest))
    distinct = {f.sha256 for f in files}
    return Published(len(files), sum(f.size for f in files), len(record.staged), len(distinct))
