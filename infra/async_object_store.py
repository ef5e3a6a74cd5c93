"""The object-store adapter for event loops: ``AsyncBucket``, the async counterpart of
``infra.object_store.Bucket`` on aioboto3, so that no role blocks its loop (or parks a
thread) on S3. Same answers: a key that is not there reads as ``None``.

One client per process: ``start()`` when the process's roles start, ``close()`` when
they stop (``infra.compose.bootstrap``). The builder keeps the sync
``Bucket`` in its own process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiofiles
from botocore.exceptions import ClientError

from infra.connections import async_s3_client
from infra.object_store import CHUNK, DELETE_BATCH, is_missing
from infra.settings import Settings


class AsyncBucket:
    """One bucket (the artifacts' unless ``name`` says otherwise) through an aioboto3
    S3 client that ``start()`` opens and ``close()`` closes, in the loop that uses it."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.name = name or settings.artifacts_bucket
        self._settings = settings
        self._exits: AsyncExitStack | None = None
        self._client: Any = None

    @property
    def client(self) -> Any:
        assert self._client is not None, "start() the bucket first"
        return self._client

    async def start(self) -> None:
        if self._client is None:
            self._exits = AsyncExitStack()
            self._client = await self._exits.enter_async_context(
                async_s3_client(self._settings))

    async def close(self) -> None:
        exits, self._exits, self._client = self._exits, None, None
        if exits is not None:
            await exits.aclose()

    async def get(self, key: str, first: int | None = None, last: int | None = None
                  ) -> bytes | None:
        """The object's bytes (``first``..``last`` inclusive, if given), None if none."""
        answer = await self._get_object(key, first, last)
        if answer is None:
            return None
        body = answer["Body"]  # its ``async with`` yields aiohttp's response: keep ours
        async with body:
            data: bytes = await body.read()
        return data

    async def chunks(self, key: str, first: int | None = None, last: int | None = None
                     ) -> AsyncIterator[bytes] | None:
        """The object's bytes in chunks as they arrive; None when there is none."""
        answer = await self._get_object(key, first, last)
        if answer is None:
            return None

        async def read() -> AsyncIterator[bytes]:
            body = answer["Body"]
            async with body:
                async for chunk in body.iter_chunks(CHUNK):
                    yield chunk
        return read()

    async def size(self, key: str) -> int | None:
        try:
            head = await self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return int(head["ContentLength"])

    async def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        await self.client.put_object(Bucket=self.name, Key=key, Body=body,
                                     ContentType=content_type)

    async def put_file(self, key: str, source: Path,
                       content_type: str = "application/octet-stream") -> None:
        """Store a file's bytes (aioboto3's managed transfer: multipart when large); a
        symlink is refused, not followed."""
        async with aiofiles.open(source, "rb", opener=_no_follow) as body:
            await self.client.upload_fileobj(body, self.name, key,
                                             ExtraArgs={"ContentType": content_type})

    async def download(self, key: str, dest: Path) -> None:
        """Write the object's bytes to ``dest`` (a missing key raises ``ClientError``)."""
        await self.client.download_file(self.name, key, str(dest))

    async def copy(self, source: str, key: str) -> None:
        await self.client.copy_object(Bucket=self.name, Key=key,
                                      CopySource={"Bucket": self.name, "Key": source})

    async def delete(self, key: str) -> None:
        await self.client.delete_object(Bucket=self.name, Key=key)

    async def delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
            answer = await self.client.delete_objects(
                Bucket=self.name, Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise RuntimeError(f"deleting artifacts failed: {answer['Errors'][:3]}")

    async def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix)
        return [o["Key"] async for page in pages for o in page.get("Contents", [])]

    async def _get_object(self, key: str, first: int | None, last: int | None
                          ) -> dict[str, Any] | None:
        extra = {} if first is None else {"Range": f"bytes={first}-{'' if last is None else last}"}
        try:
            answer: dict[str, Any] = await self.client.get_object(
                Bucket=self.name, Key=key, **extra)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return answer


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
