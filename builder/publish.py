"""Upload a deployment's output, content-addressed: each distinct file once as a blob
at ``blob_key(sha256)`` (skipped when the bucket already has it), then the manifest.

The manifest goes last, so a deployment that has a manifest has all of its blobs.
Uploads run on a small thread pool (boto3 is synchronous).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from builder.collect import CompressedFile, OutputFile
from schemas.artifacts import (
    Manifest,
    ManifestEntry,
    SiteConfig,
    Variant,
    blob_key,
    manifest_key,
)
from schemas.envelope import dumps

WORKERS = 8


@dataclass(frozen=True)
class Published:
    file_count: int
    total_bytes: int
    uploaded_blobs: int
    distinct_blobs: int


Blob = OutputFile | CompressedFile


def build_manifest(deployment_id: str, files: list[OutputFile],
                   site: SiteConfig | None = None) -> Manifest:
    entries = {f.path: ManifestEntry(
        sha256=f.sha256, size=f.size, content_type=f.content_type,
        encodings={v.encoding: Variant(sha256=v.sha256, size=v.size) for v in f.variants})
        for f in files}
    return Manifest(deployment_id=deployment_id, files=entries, site=site or SiteConfig(),
                    published_at=datetime.now(UTC).replace(microsecond=0))


def distinct_blobs(files: list[OutputFile]) -> list[Blob]:
    """Each blob of the output once: the files and their compressed variants."""
    blobs: dict[str, Blob] = {}
    for f in files:
        blobs.setdefault(f.sha256, f)
        for v in f.variants:
            blobs.setdefault(v.sha256, v)
    return list(blobs.values())


def blob_exists(client: Any, bucket: str, sha256: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=blob_key(sha256))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def upload_blob(client: Any, bucket: str, file: Blob) -> bool:
    """Upload one blob unless present; True when it was uploaded."""
    if blob_exists(client, bucket, file.sha256):
        return False
    fd = os.open(file.source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as body:
        client.put_object(Bucket=bucket, Key=blob_key(file.sha256), Body=body,
                          ContentLength=file.size, ContentType="application/octet-stream")
    return True


def publish(client: Any, bucket: str, deployment_id: str, files: list[OutputFile],
            site: SiteConfig | None = None, workers: int = WORKERS) -> Published:
    """Upload the blobs that are missing, then the manifest."""
    distinct = distinct_blobs(files)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") as pool:
        uploaded = sum(pool.map(lambda f: upload_blob(client, bucket, f), distinct))
    manifest = build_manifest(deployment_id, files, site)
    client.put_object(Bucket=bucket, Key=manifest_key(deployment_id), Body=dumps(manifest),
                      ContentType="application/json")
    return Published(len(files), sum(f.size for f in files), uploaded, len(distinct))
