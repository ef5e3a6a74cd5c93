"""The uploads' state in the object store: each upload's record, and the admission of
the blobs its client sent.

A client PUTs each blob it was asked for to a staging key of its upload. Before the
deployment is requested, ``admit`` checks that each staged blob's bytes hash to its
name and size, then moves it to its content-addressed key; a blob that does not match
is deleted and named. Nothing here publishes: the worker does
(``builder.prebuilt_runner``).
"""

from __future__ import annotations

import asyncio
import hashlib

from pydantic import ValidationError

from infra.async_object_store import AsyncBucket
from schemas.artifacts import blob_key
from schemas.errors import Invalid
from schemas.uploads import UploadRecord, staged_key, upload_key

WORKERS = 8


async def read_record(store: AsyncBucket, upload_id: str) -> UploadRecord | None:
    raw = await store.get(upload_key(upload_id))
    try:
        return None if raw is None else UploadRecord.model_validate_json(raw)
    except ValidationError:
        return None


async def _hash(store: AsyncBucket, key: str) -> tuple[str, int] | None:
    """sha256 and size of a stored object, None when there is none."""
    chunks = await store.chunks(key)
    if chunks is None:
        return None
    digest, size = hashlib.sha256(), 0
    async for chunk in chunks:
        await asyncio.to_thread(digest.update, chunk)  # hashing, off the loop
        size += len(chunk)
    return digest.hexdigest(), size


async def _admit(store: AsyncBucket, upload_id: str, sha: str, size: int) -> str | None:
    """Move one staged blob into the store; what is wrong with it, or None."""
    staged = staged_key(upload_id, sha)
    if await store.size(blob_key(sha)) == size:
        await store.delete(staged)
        return None
    found = await _hash(store, staged)
    if found is None:
        return None  # never sent: reported as missing by the caller
    if found != (sha, size):
        await store.delete(staged)
        return f"the bytes uploaded do not match sha256 {sha} and size {size}"
    await store.copy(staged, blob_key(sha))
    await store.delete(staged)
    return None


async def admit(store: AsyncBucket, record: UploadRecord) -> None:
    """Admit what the client sent to staging, WORKERS blobs at a time. ``Invalid`` naming
    the file for a blob whose bytes are not what its name says (it is deleted)."""
    staged = list(record.staged.items())
    limit = asyncio.Semaphore(WORKERS)

    async def one(sha: str, size: int) -> str | None:
        async with limit:
            return await _admit(store, record.upload_id, sha, size)
    problems = await asyncio.gather(*(one(sha, size) for sha, size in staged))
    for (sha, _), problem in zip(staged, problems, strict=True):
        if problem is not None:
            path = next(p for p, f in record.files.items() if f.sha256 == sha)
            raise Invalid(f"{path}: {problem}", field=f"files.{path}")
