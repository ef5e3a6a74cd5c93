"""Dead letters through the running platform: a malformed control event and a malformed
log message are listed with their reasons (API and CLI); a redrive appends the original
key and value to the original topic once, and a message still bad comes back as a new
letter; only the instance owner may see or redrive them; bad input is 422."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.envelope import new_id
from tests.e2e.test_cli import buildspace
from tests.e2e.test_two_factor import member
from tests.support.kafka import partitions, send
from tests.support.platform import Platform
from tests.support.waiting import eventually, eventually_async


async def _ends(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return await consumer.end_offsets(await partitions(bootstrap, topic))
    finally:
        await consumer.stop()


async def _appended(bootstrap: str, starts: dict[TopicPartition, int], value: bytes
                    ) -> list[ConsumerRecord[bytes, bytes]]:
    """The records with ``value`` appended after ``starts``, read to the end of the
    topic once at least one is there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        consumer.assign(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)

        async def read_to_end() -> bool:
            batch = await consumer.getmany(timeout_ms=200)
            found.extend(r for rs in batch.values() for r in rs if r.value == value)
            ends = await consumer.end_offsets(list(starts))
            return bool(found) and all([await consumer.position(tp) >= ends[tp]
                                        for tp in starts])
        await eventually_async(read_to_end, what="the redriven record", interval=0)
        return found
    finally:
        await consumer.stop()


def letters(c: httpx.Client, topic: str, marker: str, state: str = "all"
            ) -> list[dict[str, Any]]:
    found = c.get("/v1/dead-letters", params={"topic": topic, "state": state, "limit": 200})
    assert found.status_code == 200, found.text
    return [d for d in found.json() if marker in d["value_preview"]]


def stranger(platform: Platform, marker: str) -> str:
    """A session of a user who is not the instance owner (a team admin, even)."""
    email = f"stranger-{marker[:8].lower()}@dead.test"
    with platform.client() as owner:
        team = owner.post("/v1/teams", json={"name": f"dl-{marker[:6].lower()}"}).json()["id"]
    return member(platform, team, email, role="admin")


@pytest.mark.asyncio
async def test_dead_letters_are_listed_redriven_once_and_only_by_the_instance_owner(
        platform: Platform, tmp_path):
    marker = new_id()
    event = orjson.dumps({"type": "NoSuchEvent", "marker": marker})
    line = b"\xff not a log message " + marker.encode()
    key = f"dep-{marker}".encode()
    await send(platform.kafka, "buildspace.events", event, key=b"junk")
    await send(platform.kafka, "buildspace.logs", line, key=key)

    with platform.client() as c:
        first = eventually(lambda: letters(c, "buildspace.events", marker)
                           and letters(c, "buildspace.logs", marker),
                           what="both dead letters listed")
        [bad_event] = letters(c, "buildspace.events", marker, "pending")
        [bad_line] = first
    assert bad_event["reason"].startswith("malformed event: ")
    assert bad_line["reason"].startswith("malformed log message: ")
    assert bad_line["key"] == key.decode() and bad_line["value_size"] == len(line)
    assert bad_line["value_preview"] == line.decode(errors="replace")
    assert bad_line["id"].startswith("buildspace.logs.dlq:") and bad_line["state"] == "pending"

    home = tmp_path / "config"
    listed = buildspace(platform, home, "dead-letters", "ls", "--json", token=platform.token())
    assert listed.returncode == 0, listed.stderr
    assert {bad_event["id"], bad_line["id"]} <= {d["id"] for d in json.loads(listed.stdout)}
    table = buildspace(platform, home, "dead-letters", "ls", "--topic", "buildspace.logs",
                       token=platform.token()).stdout
    assert f"buildspace.logs@{bad_line['offset']}" in table
    assert "malformed log message" in table and bad_event["id"] not in table

    # Anyone but the instance owner: 403, and nothing changes.
    for token in (stranger(platform, marker), platform_token(platform, ["read", "write"])):
        with platform.client(token) as c:
            assert c.get("/v1/dead-letters").status_code == 403
            assert c.get(f"/v1/dead-letters/{bad_line['id']}").status_code == 403
            assert c.post(f"/v1/dead-letters/{bad_line['id']}/redrive").status_code == 403

    starts = await _ends(platform.kafka, "buildspace.logs")
    redriven = buildspace(platform, home, "dead-letters", "redrive", bad_line["id"],
                          "--json", token=platform.token())
    assert redriven.returncode == 0, redriven.stderr
    answer = json.loads(redriven.stdout)
    assert answer["state"] == "redriven" and answer["redriven_by"]["kind"] == "user"
    [again] = await _appended(platform.kafka, starts, line)
    assert (again.key, again.value) == (key, line)
    assert (again.partition, again.offset) == (answer["redriven_partition"],
                                               answer["redriven_offset"])

    with platform.client() as c:
        twice = c.post(f"/v1/dead-letters/{bad_line['id']}/redrive")
        assert twice.status_code == 409, twice.text
        detail = c.get(f"/v1/dead-letters/{bad_line['id']}").json()
        assert detail["redriven_at"] == answer["redriven_at"]
        assert base64.b64decode(detail["value_base64"]) == line
        assert base64.b64decode(detail["key_base64"]) == key
        # Still malformed: refused again, a new letter at the redriven offset.
        eventually(lambda: [d for d in letters(c, "buildspace.logs", marker, "pending")
                            if d["offset"] == again.offset], what="the redrive refused again")
        assert [d["id"] for d in letters(c, "buildspace.logs", marker, "redriven")] == [
            bad_line["id"]]
        assert c.get(f"/v1/dead-letters/{bad_event['id']}").json()["state"] == "pending"
    assert await _appended(platform.kafka, starts, line) == [again]  # once
    refused = buildspace(platform, home, "dead-letters", "redrive", bad_line["id"],
                         token=platform.token())
    assert refused.returncode == 1 and "409" in refused.stderr


def platform_token(platform: Platform, scopes: list[str]) -> str:
    """A token of the instance owner without the admin scope."""
    with platform.client() as c:
        made = c.post("/v1/tokens", json={"name": f"dl-{new_id()[:6]}", "scopes": scopes})
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


def test_bad_input_is_422_and_an_unknown_letter_404(platform: Platform):
    with platform.client() as c:
        for params in ({"limit": 100000}, {"limit": 0}, {"state": "lost"}, {"offset": -1},
                       {"offset": 2**40}, {"topic": "t" * 250}, {"topic": ""}):
            assert c.get("/v1/dead-letters", params=params).status_code == 422, params
        assert c.get(f"/v1/dead-letters/{'x' * 301}").status_code == 422
        assert c.get("/v1/dead-letters/buildspace.events.dlq:0:999999999").status_code == 404
        assert c.post("/v1/dead-letters/nope:0:1/redrive").status_code == 404
