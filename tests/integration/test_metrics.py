"""Consumer lag read from the real broker, and a real worker's /healthz and /metrics:
its lag, its builds gauge and the log lines it stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from infra.compose.bootstrap import Roles
from infra.consumer_lag import ConsumerLag
from infra.embedded import free_port
from infra.metrics import exposition
from infra.settings import Settings
from schemas.logs import BuildLogAppended, LogLine
from tests.support.metrics import sample, value
from tests.support.platform import fresh_database
from tests.support.waiting import eventually_async


async def topic_with_records(bootstrap: str, topic: str, counts: list[int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, len(counts), 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in enumerate(counts):
            for n in range(count):
                await producer.send_and_wait(topic, b"%d" % n, partition=partition)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """What a member of ``group`` that processed up to ``offsets`` commits."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await consumer.stop()


@pytest.mark.asyncio
async def test_lag_is_the_end_offset_minus_the_committed_one(kafka_bootstrap: str) -> None:
    topic, group = f"lag-{uuid.uuid4().hex[:10]}", f"group-{uuid.uuid4().hex[:10]}"
    first, second, third = (TopicPartition(topic, p) for p in range(3))

    def gauge(partition: int) -> float:
        return value(exposition(), "buildspace_consumer_lag", topic=topic,
                     partition=str(partition))

    await topic_with_records(kafka_bootstrap, topic, [5, 3, 0])
    await commit(kafka_bootstrap, group, {first: 2})
    lag = ConsumerLag(Settings(kafka_bootstrap=kafka_bootstrap), group, [topic],
                      interval=0.1)
    await lag.start()
    try:
        # never committed: counted from the partition's first record
        assert await lag.refresh() == {first: 3, second: 3, third: 0}
        assert (gauge(0), gauge(1), gauge(2)) == (3, 3, 0)
        await commit(kafka_bootstrap, group, {first: 5, second: 1})

        async def moved() -> bool:  # the collector's own loop reads it
            return (gauge(0), gauge(1)) == (0, 2)
        await eventually_async(moved)
    finally:
        await lag.stop()


@pytest.mark.asyncio
async def test_a_worker_serves_its_health_and_metrics(kafka_bootstrap: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:10]
    topics: dict[str, Any] = {f"topic_{name}": f"{name}-{suffix}"
              for name in ("events", "logs", "commands", "routes", "requests")}
    port = free_port()

    with fresh_database() as dsn:
        settings = Settings(kafka_bootstrap=kafka_bootstrap, database_url=dsn,
                            clickhouse_dsn=f"chdb://{tmp_path / 'ch'}", data_dir=tmp_path,
                            worker_port=port, topic_partitions=2, **topics)
        roles = Roles(settings)
        try:
            await roles.start(["worker"])
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                health = await client.get("/healthz")
                assert (health.status_code, health.json()) == (
                    200, {"status": "ok", "faust": "running"})
                before = (await client.get("/metrics")).text
                lines = [LogLine(seq=n, stream="stdout", ts=datetime.now(UTC), line=f"l{n}")
                         for n in range(1, 8)]
                assert roles.events is not None
                await roles.events.append(settings.topic_logs, "d1", BuildLogAppended(
                    stream_id="d1", project_id="p1", deployment_id="d1", lines=lines))

                async def stored_and_committed() -> bool:
                    text = (await client.get("/metrics")).text
                    stored = value(text, "buildspace_log_lines_total") \
                        - value(before, "buildspace_log_lines_total")
                    lag = [sample(text, "buildspace_consumer_lag", topic=settings.topic_logs,
                                  partition=p) for p in "01"]
                    builds = [sample(text, "buildspace_builds", state=state)
                              for state in ("queued", "running")]
                    return stored == 7 and lag == [0, 0] and builds == [0, 0]

                await eventually_async(stored_and_committed, timeout=60)
        finally:
            await roles.close()
