"""Upload a deployment's output, content-addressed: each distinct file once as a blob
at ``blob_key(sha256)`` (skipped when the bucket already has it), then the manifest.

The manifest goes last, so a deployment that has a manifest has all of its blobs.
Uploads run on a small thread pool (boto3 is synchronous).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from builder.collect import CompressedFile, OutputFile
from infra.object_store import Bucket
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


def upload_blob(store: Bucket, file: Blob) -> bool:
    """Upload one blob unless present; True when it was uploaded."""
    if store.size(blob_key(file.sha256)) is not None:
        return False
    store.put_file(blob_key(file.sha256), file.source, file.size)
    return True


def publish(store: Bucket, deployment_id: str, files: list[OutputFile],
            site: SiteConfig | None = None, workers: int = WORKERS) -> Published:
    """Upload the blobs that are missing, then the manifest."""
    distinct = distinct_blobs(files)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") as pool:
        uploaded = sum(pool.map(lambda f: upload_blob(store, f), distinct))
    store.put(manifest_key(deployment_id), dumps(build_manifest(deployment_id, files, site)))
    return Published(len(files), sum(f.size for f in files), uploaded, len(distinct))
