"""The one object-store adapter: a bucket of the S3-compatible store, through boto3.

Every role reads and writes artifacts (blobs, manifests, uploads) through ``Bucket``,
so what a missing key looks like is answered once (``is_missing``) and a read of a key
that is not there is ``None``, never an exception. Its calls block: it is for the
builder's process and other sync code; event loops (edge, API, worker) use its async
counterpart, ``infra.async_object_store.AsyncBucket``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra.connections import s3_client
from infra.settings import Settings

# What S3-compatible stores answer for a key that does not exist (GET, HEAD).
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
CHUNK = 1 << 20
DELETE_BATCH = 1000


def is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in MISSING_CODES


class Bucket:
    """One bucket: ``client`` is a boto3 S3 client, ``name`` the bucket's."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    @classmethod
    def artifacts(cls, settings: Settings) -> Bucket:
        return cls(s3_client(settings), settings.artifacts_bucket)

    def get(self, key: str) -> bytes | None:
        try:
            body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return body

    def chunks(self, key: str) -> Iterator[bytes] | None:
        """The object's bytes in chunks as they arrive; None when there is none."""
        try:
            body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

        def read() -> Iterator[bytes]:
            with body:
                while chunk := body.read(CHUNK):
                    yield chunk
        return read()

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.name, Key=key)["ContentLength"])
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)

    def put_file(self, key: str, source: Path, size: int) -> None:
        """Store a file's bytes; a symlink is refused, not followed."""
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as body:
            self.client.put_object(Bucket=self.name, Key=key, Body=body, ContentLength=size,
                                   ContentType="application/octet-stream")

    def download(self, key: str, dest: Path) -> None:
        self.client.download_file(self.name, key, str(dest))

    def copy(self, source: str, key: str) -> None:
        self.client.copy_object(Bucket=self.name, Key=key,
                                CopySource={"Bucket": self.name, "Key": source})

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start:start + DELETE_BATCH]]
            answer = self.client.delete_objects(Bucket=self.name,
                                                Delete={"Objects": batch, "Quiet": True})
            if answer.get("Errors"):
                raise RuntimeError(f"deleting artifacts failed: {answer['Errors'][:3]}")

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]
