"""Publish an upload as it is (no build): the platform's half of ``buildspace deploy``.

Run by the API in a thread once the client uploaded the blobs it was asked for:
``admit_staged`` moves each staged blob into the content-addressed store after checking
that its bytes hash to its name; ``publish_upload`` then writes the deployment's manifest
the way a build's publish would: content types from the paths, the site configuration
from the upload's ``buildspace.json``, ``_redirects`` and ``_headers`` (read, never
served), and gzip and brotli variants of the compressible files.

Variants are made here rather than by the client, so every deployment is compressed the
same way whatever uploaded it, and a client cannot serve other bytes to the browsers
that accept compression than to those that do not. What was made for a blob is
remembered at ``variants_key(sha256)``, so a redeploy compresses nothing again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import ClientError

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
from schemas.artifacts import Encoding, blob_key, manifest_key
from schemas.envelope import dumps
from schemas.uploads import UploadRecord, staged_key

WORKERS = 8
CHUNK = 1 << 20


class UploadRejected(Exception):
    """The upload cannot be deployed; ``field`` names the file (``files.<path>``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def variants_key(sha256: str) -> str:
    return f"variants/{sha256[:2]}/{sha256}.json"


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _stored_size(s3: Any, bucket: str, key: str) -> int | None:
    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def _hash_object(s3: Any, bucket: str, key: str) -> tuple[str, int] | None:
    """sha256 and size of a stored object, None when there is none."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    digest, size = hashlib.sha256(), 0
    with body:
        while chunk := body.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _admit(s3: Any, bucket: str, upload_id: str, sha: str, size: int) -> str | None:
    """Move one staged blob into the store; what is wrong with it, or None."""
    staged = staged_key(upload_id, sha)
    if _stored_size(s3, bucket, blob_key(sha)) == size:
        s3.delete_object(Bucket=bucket, Key=staged)
        return None
    found = _hash_object(s3, bucket, staged)
    if found is None:
        return None  # never sent: reported as missing by the caller
    if found != (sha, size):
        s3.delete_object(Bucket=bucket, Key=staged)
        return f"the bytes uploaded do not match sha256 {sha} and size {size}"
    s3.copy_object(Bucket=bucket, Key=blob_key(sha), CopySource={"Bucket": bucket,
                                                                 "Key": staged})
    s3.delete_object(Bucket=bucket, Key=staged)
    return None


def admit_staged(s3: Any, bucket: str, record: UploadRecord) -> int:
    """Admit what the client sent to staging; how many blobs. ``UploadRejected`` for a
    blob whose bytes are not what its name says (it is deleted)."""
    staged = list(record.staged.items())
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="admit") as pool:
        problems = list(pool.map(lambda b: _admit(s3, bucket, record.upload_id, *b), staged))
    for (sha, _), problem in zip(staged, problems, strict=True):
        if problem is not None:
            path = next(p for p, f in record.files.items() if f.sha256 == sha)
            raise UploadRejected(f"{path}: {problem}", field=f"files.{path}")
    return len(staged)


def _download(s3: Any, bucket: str, sha: str, dest: Path) -> Path:
    if not dest.exists():
        s3.download_file(bucket, blob_key(sha), str(dest))
    return dest


class _Publisher:
    """One ``publish_upload``: the files as ``OutputFile``s over a scratch directory
    where blobs are downloaded only when their bytes are needed."""

    def __init__(self, s3: Any, bucket: str, record: UploadRecord, scratch: Path) -> None:
        self.s3, self.bucket, self.scratch = s3, bucket, scratch
        (scratch / "blobs").mkdir()
        (scratch / "site").mkdir()
        self.files = [OutputFile(path, scratch / "blobs" / f.sha256, f.sha256, f.size,
                                 content_type(path)) for path, f in sorted(record.files.items())]

    def fetch(self, file: OutputFile) -> OutputFile:
        _download(self.s3, self.bucket, file.sha256, file.source)
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
        try:
            raw = self.s3.get_object(Bucket=self.bucket, Key=variants_key(file.sha256))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        index: dict[Encoding, dict[str, Any]] = orjson.loads(raw["Body"].read())
        made = tuple(CompressedFile(enc, Path(os.devnull), v["sha256"], v["size"])
                     for enc, v in index.items())
        # Blobs of deleted projects are collected (``streams.artifact_gc``): trust the
        # index only while its variants are stored.
        stored = all(_stored_size(self.s3, self.bucket, blob_key(v.sha256)) == v.size
                     for v in made)
        return made if stored else None

    def store_variants(self, files: Any) -> None:
        """Upload each new variant blob, then the index that names them."""
        def store(file: OutputFile) -> None:
            for variant in file.variants:
                upload_blob(self.s3, self.bucket, variant)
            index = {v.encoding: {"sha256": v.sha256, "size": v.size} for v in file.variants}
            self.s3.put_object(Bucket=self.bucket, Key=variants_key(file.sha256),
                               Body=orjson.dumps(index), ContentType="application/json")
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="variants") as pool:
            list(pool.map(store, files))


def publish_upload(s3: Any, bucket: str, deployment_id: str, record: UploadRecord,
                   admitted: int) -> Published:
    """Write the manifest of a deployment of ``record``'s files, served as they are
    (every blob must be stored). ``SiteConfigError`` for a malformed configuration."""
    with tempfile.TemporaryDirectory(prefix="buildspace-upload-") as tmp:
        publisher = _Publisher(s3, bucket, record, Path(tmp))
        site = publisher.site_config()
        served = served_files(publisher.files, Path(tmp, "site"), Path(tmp, "site"))
        files = publisher.with_variants(served)
    manifest = build_manifest(deployment_id, files, site)
    s3.put_object(Bucket=bucket, Key=manifest_key(deployment_id), Body=dumps(manifest),
                  ContentType="application/json")
    distinct = {f.sha256 for f in files}
    return Published(len(files), sum(f.size for f in files), admitted, len(distinct))
