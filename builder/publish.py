"""Upload a deployment's output, content-addressed: each distinct file once as a blob
at ``blob_key(sha256)`` (skipped when the bucket already has it), then the manifest.

The manifest goes last, so a deployment that has a manifest has all of its blobs.
Uploads run on a small thread pool (boto3 is synchronous).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from builder.collect import OutputFile
from schemas.artifacts import Manifest, ManifestEntry, blob_key, manifest_key
from schemas.envelope import dumps

WORKERS = 8


@dataclass(frozen=True)
class Published:
    file_count: int
    total_bytes: int
    uploaded_blobs: int
    distinct_blobs: int


def build_manifest(deployment_id: str, files: list[OutputFile]) -> Manifest:
    entries = {f.path: ManifestEntry(sha256=f.sha256, size=f.size,
                                     content_type=f.content_type) for f in files}
    return Manifest(deployment_id=deployment_id, files=entries)


def blob_exists(client: Any, bucket: str, sha256: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=blob_key(sha256))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def upload_blob(client: Any, bucket: str, file: OutputFile) -> bool:
    """Upload one blob unless present; True when it was uploaded."""
    if blob_exists(client, bucket, file.sha256):
        return False
    fd = os.open(file.source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as body:
        client.put_object(Bucket=bucket, Key=blob_key(file.sha256), Body=body,
                          ContentLength=file.size, ContentType="application/octet-stream")
    return True


def publish(client: Any, bucket: str, deployment_id: str, files: list[OutputFile],
            workers: int = WORKERS) -> Published:
    """Upload the blobs that are missing, then the manifest."""
    distinct = list({f.sha256: f for f in files}.values())
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") as pool:
        uploaded = sum(pool.map(lambda f: upload_blob(client, bucket, f), distinct))
    manifest = build_manifest(deployment_id, files)
    client.put_object(Bucket=bucket, Key=manifest_key(deployment_id), Body=dumps(manifest),
                      ContentType="application/json")
    return Published(len(files), sum(f.size for f in files), uploaded, len(distinct))
