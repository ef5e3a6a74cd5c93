"""Dead letters without a service: the record ``streams.dlq`` writes is the one the
projection reads back; anything else on a ``.dlq`` topic is an unreadable letter; who
may be redriven; the value's preview."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from commands.dead_letters import decide
from infra.kafka import Position
from projections.dead_letter_queries import as_text
from projections.dead_letters import read_letter
from schemas.dead_letters import UNREADABLE
from schemas.errors import Conflict, NotFound
from streams.dlq import dead_letter

DLQ = Position("buildspace.logs.dlq", 1, 7)


class Appended:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []

    async def append_raw(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.records.append((topic, key, value))


@pytest.mark.asyncio
async def test_what_streams_dlq_writes_is_read_back_as_it_was():
    appended = Appended()
    value = b"\xff\x00not json"
    await dead_letter(appended, Position("buildspace.logs", 1, 41),  # type: ignore[arg-type]
                      b"dep-1", value, "malformed log message: " + "x" * 5000)
    [(topic, key, record)] = appended.records
    assert (topic, key) == ("buildspace.logs.dlq", b"dep-1")
    letter = read_letter(DLQ, key, record, 1_700_000_000.5)
    assert letter.id == "buildspace.logs.dlq:1:7"
    assert (letter.topic, letter.partition, letter.offset) == ("buildspace.logs", 1, 41)
    assert (letter.key, letter.value, letter.readable) == (b"dep-1", value, True)
    assert letter.reason.startswith("malformed log message: ") and len(letter.reason) == 2000
    assert letter.dead_lettered_at == datetime.fromtimestamp(1_700_000_000.5, UTC)


@pytest.mark.parametrize("record", [
    b"", b"garbage", b"[1, 2]", orjson.dumps({"topic": "buildspace.logs"}),
    orjson.dumps({"topic": "buildspace.logs", "partition": 0, "offset": 1, "reason": "r",
                  "value": "not base64!"}),
    orjson.dumps({"topic": "buildspace.logs", "partition": -1, "offset": 1, "reason": "r"}),
    orjson.dumps({"topic": "buildspace.routes", "partition": 0, "offset": 1, "reason": "r"}),
])
def test_a_record_that_is_not_a_dead_letter_is_kept_as_an_unreadable_one(record):
    letter = read_letter(DLQ, b"k", record)
    assert (letter.id, letter.topic, letter.reason) == (
        "buildspace.logs.dlq:1:7", "buildspace.logs", UNREADABLE)
    assert (letter.partition, letter.offset, letter.readable) == (None, None, False)
    assert (letter.key, letter.value) == (b"k", record)


@pytest.mark.asyncio
async def test_only_a_known_readable_letter_not_redriven_yet_is_redriven():
    appended = Appended()
    await dead_letter(appended, Position("buildspace.events", 0, 3),  # type: ignore[arg-type]
                      None, b"{}", "malformed event")
    letter = read_letter(Position("buildspace.events.dlq", 0, 0), None, appended.records[0][2])
    assert letter.readable
    assert decide.redrive(letter.id, letter, False) is letter
    with pytest.raises(NotFound):
        decide.redrive("nope", None, False)
    with pytest.raises(Conflict, match="already"):
        decide.redrive(letter.id, letter, True)
    with pytest.raises(Conflict, match="unreadable"):
        decide.redrive(letter.id, read_letter(DLQ, None, b"junk"), False)


def test_the_preview_is_cut_without_a_broken_character():
    assert as_text(None) is None
    assert as_text(b"ok \xff") == "ok \ufffd"
    assert as_text("é".encode() * 3, 5) == "éé"  # the third é's first byte is left out
    assert as_text(b"abc", 5) == "abc"
