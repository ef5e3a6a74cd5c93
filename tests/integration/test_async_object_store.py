"""AsyncBucket against rclone's S3 server: the same answers as the sync ``Bucket`` —
a missing key reads as None; ranged reads and chunks; size, put, keys, delete_many."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from infra.async_object_store import AsyncBucket
from infra.object_store import CHUNK, Bucket
from infra.settings import Settings
from tests.support.services import async_bucket, object_store


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with object_store(tmp_path_factory.mktemp("async-s3"), "asyncbucket") as opened:
        yield opened


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}/"


@pytest_asyncio.fixture
async def bucket(settings: Settings) -> AsyncIterator[AsyncBucket]:
    """An AsyncBucket opened, like a role's, in the loop that uses it."""
    async with async_bucket(settings) as opened:
        yield opened


@pytest.mark.asyncio
async def test_a_missing_key_reads_as_none(bucket: AsyncBucket, prefix: str) -> None:
    key = prefix + "absent"
    assert (await bucket.get(key), await bucket.get(key, 0, 9),
            await bucket.chunks(key), await bucket.size(key)) == (None, None, None, None)


@pytest.mark.asyncio
async def test_put_then_get_and_size(settings: Settings, bucket: AsyncBucket, prefix: str
                                     ) -> None:
    await bucket.put(prefix + "record.json", b'{"ok": true}')
    assert (await bucket.get(prefix + "record.json"),
            await bucket.size(prefix + "record.json")) == (b'{"ok": true}', 12)
    # What the async bucket wrote, the sync one (the builder's) reads.
    assert Bucket.artifacts(settings).get(prefix + "record.json") == b'{"ok": true}'


@pytest.mark.asyncio
async def test_ranged_reads_and_chunks(settings: Settings, bucket: AsyncBucket, prefix: str
                                       ) -> None:
    body = os.urandom(2 * CHUNK + 123)
    Bucket.artifacts(settings).put(prefix + "big.bin", body, "application/octet-stream")

    async def collect(first: int | None, last: int | None) -> bytes:
        chunks = await bucket.chunks(prefix + "big.bin", first, last)
        assert chunks is not None
        return b"".join([chunk async for chunk in chunks])

    ten, tail = (await bucket.get(prefix + "big.bin", 10, 19),
                 await bucket.get(prefix + "big.bin", 2 * CHUNK))
    whole, middle = await collect(None, None), await collect(CHUNK - 5, CHUNK + 4)
    assert ten == body[10:20]
    assert tail == body[2 * CHUNK:]
    assert whole == body
    assert middle == body[CHUNK - 5:CHUNK + 5]


@pytest.mark.asyncio
async def test_keys_and_delete_many(bucket: AsyncBucket, prefix: str) -> None:
    names = [f"{prefix}blobs/{i:02d}" for i in range(12)]
    await asyncio.gather(*(bucket.put(n, n.encode()) for n in names))
    await bucket.put(prefix + "other", b"kept")
    listed = await bucket.keys(prefix + "blobs/")
    await bucket.delete_many(names[:10])
    left, deleted = await bucket.keys(prefix), await bucket.get(names[0])
    assert sorted(listed) == names
    assert sorted(left) == [*names[10:], prefix + "other"]
    assert deleted is None


@pytest.mark.asyncio
async def test_a_stopped_bucket_says_so(settings: Settings) -> None:
    with pytest.raises(AssertionError, match="start"):
        await AsyncBucket(settings).get("anything")


@pytest.mark.asyncio
async def test_files_are_put_whole_and_downloaded(settings: Settings, bucket: AsyncBucket,
                                                  prefix: str, tmp_path: Path) -> None:
    """Above the managed transfer's 8 MiB threshold the put is multipart: still whole."""
    body = os.urandom(9 << 20)
    (tmp_path / "big.bin").write_bytes(body)
    await bucket.put_file(prefix + "big.bin", tmp_path / "big.bin")
    assert Bucket.artifacts(settings).get(prefix + "big.bin") == body
    await bucket.download(prefix + "big.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == body


@pytest.mark.asyncio
async def test_a_symlink_is_not_followed_when_a_file_is_put(bucket: AsyncBucket, prefix: str,
                                                            tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"not for the store")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(OSError):
        await bucket.put_file(prefix + "link", tmp_path / "link")
    assert await bucket.get(prefix + "link") is None
