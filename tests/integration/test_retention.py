"""Retention: the real broker creates every topic with the cleanup policy and retention
its setting says (the routes topic compacted); ClickHouse (chdb) tables get their TTL,
also a table created before with another one, and drop a row past it at the next merge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.kafka import ensure_topics, topic_configs
from infra.settings import Settings
from projections.analytics import COLUMNS, TABLE, migrate, rows
from projections.logs import LogStore
from projections.ttl import current_ttl
from schemas.analytics import EdgeRequestsServed, RequestRecord

DAY_MS = 86_400_000


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[Any]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path / 'ch'}")
    yield client
    client.close()


async def described(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    finally:
        await admin.close()
    return {resource[3]: {entry[0]: entry[1] for entry in resource[4]}
            for response in responses for resource in response.resources}


@pytest.mark.asyncio
async def test_the_broker_creates_each_topic_with_its_retention(kafka_bootstrap):
    prefix = f"retention-{uuid.uuid4().hex[:8]}"
    s = Settings(kafka_bootstrap=kafka_bootstrap, topic_partitions=1,
                 topic_events=f"{prefix}.events", topic_logs=f"{prefix}.logs",
                 topic_commands=f"{prefix}.commands", topic_routes=f"{prefix}.routes",
                 topic_requests=f"{prefix}.requests", log_retention_days=3,
                 request_retention_days=5, command_retention_days=2, dlq_retention_days=9)
    await ensure_topics(s)
    wanted = topic_configs(s)
    configs = await described(kafka_bootstrap, list(wanted))
    for name, config in wanted.items():
        assert {k: configs[name][k] for k in config} == config, name
    assert configs[s.topic_events]["retention.ms"] == "-1"
    assert configs[s.topic_logs]["retention.ms"] == str(3 * DAY_MS)
    assert configs[s.topic_requests]["retention.ms"] == str(5 * DAY_MS)
    assert configs[s.topic_commands]["retention.ms"] == str(2 * DAY_MS)
    assert configs[s.topic_routes]["cleanup.policy"] == "compact"
    assert int(configs[s.topic_routes]["segment.ms"]) <= 3_600_000
    for name in wanted:
        if name.endswith(".dlq"):
            assert configs[name]["cleanup.policy"] == "delete"
            assert configs[name]["retention.ms"] == str(9 * DAY_MS)


def stored_lines(chdb: Any) -> list[str]:
    chdb.command("OPTIMIZE TABLE build_logs FINAL")
    return [d for d, in chdb.query("SELECT deployment_id FROM build_logs ORDER BY 1").result_rows]


def test_log_lines_past_retention_go_at_the_next_merge_also_in_a_table_from_before(chdb):
    LogStore(chdb, 30)
    now = datetime.now(UTC)
    columns = ["deployment_id", "seq", "project_id", "stream", "ts", "line", "inserted_at"]
    chdb.insert("build_logs", [
        ["old", 1, "p", "stdout", now - timedelta(days=8), "stored 8 days ago",
         now - timedelta(days=8)],
        ["new", 1, "p", "stdout", now, "stored now", now]], column_names=columns)
    assert stored_lines(chdb) == ["new", "old"]
    LogStore(chdb, 7)  # a restart with a shorter retention
    assert current_ttl(chdb, "build_logs") == "inserted_at + toIntervalDay(7)"
    assert stored_lines(chdb) == ["new"]


def test_a_request_table_from_before_gets_the_retention_of_the_setting(chdb):
    migrate(chdb, 30)
    migrate(chdb, 10)
    assert current_ttl(chdb, "edge_requests") == "toDateTime(ts) + toIntervalDay(10)"


def test_request_records_past_retention_go_at_the_next_merge(chdb):
    migrate(chdb, 10)
    now = datetime.now(UTC)
    served = EdgeRequestsServed(stream_id="p", project_id="p", requests=[
        RequestRecord(ts=now - timedelta(days=11), deployment_id="old", host="h", path="/",
                      status=200, bytes=1, duration_ms=1),
        RequestRecord(ts=now, deployment_id="new", host="h", path="/", status=200, bytes=1,
                      duration_ms=1)])
    chdb.insert(TABLE, rows([served]), column_names=COLUMNS)
    chdb.command(f"OPTIMIZE TABLE {TABLE} FINAL")
    kept = chdb.query(f"SELECT deployment_id FROM {TABLE}").result_rows
    assert kept == [("new",)]
