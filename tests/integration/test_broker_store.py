"""The store the embedded broker keeps its log in (``infra.broker_store``): the S3
semantics Tansu relies on, over real HTTP with boto3, and Tansu on it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.embedded import BrokerStore, TansuBroker


def client(store: BrokerStore, secret: str | None = None) -> Any:
    return boto3.client(
        "s3", endpoint_url=store.endpoint, region_name="us-east-1",
        aws_access_key_id=store.access_key, aws_secret_access_key=secret or store.secret_key,
        config=Config(response_checksum_validation="when_required",
                      request_checksum_calculation="when_required",
                      retries={"max_attempts": 1}))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[BrokerStore]:
    running = BrokerStore(tmp_path / "store", tmp_path / "logs")
    yield running
    running.stop()


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_conditional_writes_are_checked(store: BrokerStore) -> None:
    s3 = client(store)
    s3.create_bucket(Bucket="log")
    first = s3.put_object(Bucket="log", Key="p/0.batch", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket="log", Key="p/0.batch", Body=b"two", IfNoneMatch="*")
    assert code(exists) == "PreconditionFailed"
    assert s3.get_object(Bucket="log", Key="p/0.batch")["Body"].read() == b"one"

    s3.put_object(Bucket="log", Key="watermark.json", Body=b"1")
    etag = s3.head_object(Bucket="log", Key="watermark.json")["ETag"]
    s3.put_object(Bucket="log", Key="watermark.json", Body=b"2", IfMatch=etag)
    with pytest.raises(ClientError) as moved:  # a writer that read "1" lost the race
        s3.put_object(Bucket="log", Key="watermark.json", Body=b"3", IfMatch=etag)
    assert code(moved) == "PreconditionFailed"
    assert s3.get_object(Bucket="log", Key="watermark.json")["Body"].read() == b"2"
    with pytest.raises(ClientError) as missing:
        s3.put_object(Bucket="log", Key="nothing-here", Body=b"x", IfMatch=first["ETag"])
    assert code(missing) == "PreconditionFailed"
    assert "Contents" not in s3.list_objects_v2(Bucket="log", Prefix="nothing")


def test_listing_pages_in_order_and_follows_changes(store: BrokerStore) -> None:
    s3 = client(store)
    s3.create_bucket(Bucket="log")
    keys = [f"t/0/records/{n:020}.batch" for n in range(2500)] + ["t/0/watermark.json",
                                                                  "t/1/records/x.batch"]
    for key in keys:
        s3.put_object(Bucket="log", Key=key, Body=key.encode())

    def listed(prefix: str) -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="log", Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    records = sorted(k for k in keys if k.startswith("t/0/records/"))
    assert listed("t/0/records/") == records  # three pages, the first two cached
    s3.delete_object(Bucket="log", Key=records[10])
    s3.put_object(Bucket="log", Key="t/0/records/00000000000000000010x.batch", Body=b"")
    s3.put_object(Bucket="log", Key=records[-1] + ".next", Body=b"")
    assert listed("t/0/records/") == sorted(
        [*records[:10], "t/0/records/00000000000000000010x.batch", *records[11:],
         records[-1] + ".next"])
    top = s3.list_objects_v2(Bucket="log", Prefix="t/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["t/0/", "t/1/"]
    item = s3.list_objects_v2(Bucket="log", Prefix="t/1/")["Contents"][0]
    assert item["Size"] == len("t/1/records/x.batch") and item["LastModified"]


def test_unsigned_or_badly_signed_requests_are_refused(store: BrokerStore) -> None:
    s3 = client(store)
    s3.create_bucket(Bucket="log")
    with pytest.raises(ClientError) as wrong:
        client(store, secret="not-the-secret").put_object(Bucket="log", Key="k", Body=b"x")
    assert code(wrong) == "SignatureDoesNotMatch"
    import httpx

    assert httpx.put(f"{store.endpoint}/log/k", content=b"x").status_code == 403
    assert "Contents" not in s3.list_objects_v2(Bucket="log")
    with pytest.raises(ClientError) as bad_key:
        s3.put_object(Bucket="log", Key="a/../../escape", Body=b"x")
    assert code(bad_key) == "InvalidArgument"
    assert not (Path(store.child.proc.args[3]).parent / "escape").exists()


def test_large_objects_are_taken_whole(store: BrokerStore) -> None:
    """Tansu moves the watermark before it writes the batch: a refused batch would be a
    hole that no consumer gets past."""
    s3 = client(store)
    s3.create_bucket(Bucket="log")
    body = bytes(range(256)) * (12 << 12)  # 12 MiB
    s3.put_object(Bucket="log", Key="big.batch", Body=body, IfNoneMatch="*")
    assert s3.get_object(Bucket="log", Key="big.batch")["Body"].read() == body


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    first = BrokerStore(tmp_path / "store", tmp_path / "logs")
    s3 = client(first)
    s3.create_bucket(Bucket="log")
    etag = s3.put_object(Bucket="log", Key="a/b.json", Body=b"kept")["ETag"]
    first.stop()
    second = BrokerStore(tmp_path / "store", tmp_path / "logs")
    try:
        s3 = client(second)
        got = s3.get_object(Bucket="log", Key="a/b.json")
        assert got["Body"].read() == b"kept" and got["ETag"] == etag
        s3.put_object(Bucket="log", Key="a/b.json", Body=b"next", IfMatch=etag)
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="log")["Contents"]] == ["a/b.json"]
    finally:
        second.stop()


async def _produce_concurrently(bootstrap: str, producers: int, each: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("shared", 1, 1)])
    finally:
        await admin.close()
    clients = [AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
               for _ in range(producers)]
    await asyncio.gather(*(p.start() for p in clients))

    async def run(i: int, producer: AIOKafkaProducer) -> None:
        for j in range(each):
            await producer.send_and_wait("shared", f"{i}-{j}".encode(), partition=0)

    try:
        await asyncio.gather(*(run(i, p) for i, p in enumerate(clients)))
    finally:
        await asyncio.gather(*(p.stop() for p in clients))


async def _read_all(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=200)
    await consumer.start()
    tp = TopicPartition("shared", 0)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    end = (await consumer.end_offsets([tp]))[tp]
    seen: list[bytes] = []
    try:
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=2000)
            seen += [r.value for r in batches.get(tp, []) if r.value is not None]
    finally:
        await consumer.stop()
    return seen


def test_concurrent_producers_to_one_partition_lose_nothing(tmp_path: Path) -> None:
    """On rclone's S3, which ignores If-None-Match and If-Match, two appends at the same
    offset both succeeded and one overwrote the other: acknowledged records vanished."""
    broker = TansuBroker(0, tmp_path / "kafka", tmp_path / "logs")
    try:
        asyncio.run(_produce_concurrently(broker.bootstrap, producers=4, each=40))
    finally:
        broker.stop()
    broker = TansuBroker(0, tmp_path / "kafka", tmp_path / "logs")  # and durably
    try:
        seen = asyncio.run(_read_all(broker.bootstrap))
    finally:
        broker.stop()
    assert sorted(seen) == sorted(f"{i}-{j}".encode() for i in range(4) for j in range(40))
