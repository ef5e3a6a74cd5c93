"""The checkout of a build of uploaded files (``BuildSpec.upload_id``): instead of a
clone, the files of the upload are written into the work directory from the store.

A local build reads the upload and its blobs from the object store with the
builder's settings (``S3Source``); a remote build (ECS), holding only its grant, gets
presigned GET URLs from ``GET /v1/builds/{id}/source`` (``ApiSource``). Either way each
file is checked against its sha256 and size while it is written, and paths are checked
again: nothing is written outside the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from infra.object_store import Bucket
from infra.settings import Settings
from schemas.artifacts import blob_key
from schemas.builds import BuildSpec
from schemas.uploads import BuildSource, SourceFile, UploadRecord, check_upload_path, upload_key

WORKERS = 8
CHUNK = 1 << 20


class SourceError(Exception):
    """The uploaded files cannot be fetched; the message is what the user sees."""


@dataclass(frozen=True)
class Fetched:
    files: int
    total_bytes: int
    tree: str  # the same for two uploads of exactly the same files (the output cache key)


class Source(Protocol):
    def listing(self, spec: BuildSpec) -> dict[str, SourceFile]: ...
    def chunks(self, file: SourceFile) -> Iterator[bytes]: ...


class S3Source:
    """The store itself, with the builder's credentials (local builds)."""

    def __init__(self, settings: Settings) -> None:
        self.store = Bucket.artifacts(settings)

    def listing(self, spec: BuildSpec) -> dict[str, SourceFile]:
        assert spec.upload_id is not None
        record = read_upload(self.store, spec)
        return {p: SourceFile(sha256=f.sha256, size=f.size, url="")
                for p, f in record.files.items()}

    def chunks(self, file: SourceFile) -> Iterator[bytes]:
        chunks = self.store.chunks(blob_key(file.sha256))
        if chunks is None:
            raise SourceError(f"blob {file.sha256} is not stored")
        yield from chunks


def read_upload(store: Bucket, spec: BuildSpec) -> UploadRecord:
    """The upload a deployment of uploaded files names, checked to be its project's."""
    assert spec.upload_id is not None
    try:
        raw = store.get(upload_key(spec.upload_id))
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(f"upload {spec.upload_id} is not readable: "
                          f"{type(exc).__name__}") from None
    return upload_record(spec, raw)


def upload_record(spec: BuildSpec, raw: bytes | None) -> UploadRecord:
    """The stored record ``raw`` of the upload ``spec`` names, checked to be readable
    and its project's; ``SourceError`` naming what is wrong."""
    if raw is None:
        raise SourceError(f"upload {spec.upload_id} is not stored")
    try:
        record = UploadRecord.model_validate_json(raw)
    except ValidationError as exc:
        raise SourceError(f"upload {spec.upload_id} is not readable: "
                          f"{type(exc).__name__}") from None
    if record.project_id != spec.project_id:
        raise SourceError(f"upload {spec.upload_id} belongs to another project")
    return record


class ApiSource:
    """Through the API with the build's grant (remote builds)."""

    def __init__(self, base_url: str, headers: dict[str, str],
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url, self.headers = base_url, headers
        self.http = httpx.Client(timeout=300, transport=transport)

    def listing(self, spec: BuildSpec) -> dict[str, SourceFile]:
        response = self.http.get(f"{self.base_url}source", headers=self.headers)
        if not response.is_success:
            raise SourceError(f"the API refused the source: {response.status_code} "
                              f"{response.text[:300]}")
        try:
            return BuildSource.model_validate_json(response.content).files
        except ValidationError as exc:
            raise SourceError(f"the API sent an invalid source listing: {exc}") from None

    def chunks(self, file: SourceFile) -> Iterator[bytes]:
        with self.http.stream("GET", file.url) as response:
            if not response.is_success:
                raise SourceError(f"the store refused blob {file.sha256}: "
                                  f"{response.status_code}")
            yield from response.iter_bytes(CHUNK)


def source_tree(files: dict[str, SourceFile]) -> str:
    listed = sorted((path, f.sha256) for path, f in files.items())
    return "upload:" + hashlib.sha256(json.dumps(listed).encode()).hexdigest()


def _write(source: Source, dest: Path, path: str, file: SourceFile) -> None:
    target = dest.joinpath(*path.split("/"))
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    digest, size = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as out:
        for chunk in source.chunks(file):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if (digest.hexdigest(), size) != (file.sha256, file.size):
        raise SourceError(f"{path}: the stored bytes do not match its sha256 and size")


def materialize(source: Source, spec: BuildSpec, dest: Path) -> Fetched:
    """Write the upload's files into ``dest`` (created here)."""
    files = source.listing(spec)
    for path in files:
        problem = check_upload_path(path)
        if problem is not None:
            raise SourceError(f"{path!r} {problem}")
    dest.mkdir(mode=0o755)
    try:
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="fetch") as pool:
            list(pool.map(lambda item: _write(source, dest, *item), files.items()))
    except (BotoCoreError, ClientError, httpx.HTTPError, OSError) as exc:
        raise SourceError(f"{type(exc).__name__}: {exc}") from None
    return Fetched(len(files), sum(f.size for f in files.values()), source_tree(files))


def remote_source(target: Any, deployment_id: str) -> ApiSource:
    """The ``ApiSource`` of a ``builder.remote.RemoteTarget``."""
    return ApiSource(target.base_url(deployment_id), target.headers)
