"""Project the ``.dlq`` topics into ``dead_letters``: one row per dead letter, named by
where it is on its dead-letter topic (``buildspace.events.dlq:0:12``), with where the
refused message was, why, and its key and value as they were.

A record that is not a dead letter's JSON (``schemas.dead_letters.DeadLetterRecord``),
or one of another topic than its ``.dlq`` topic is for, is kept as it is, with the
reason "unreadable dead letter": nothing here is ever dead-lettered again. Whether a
letter was redriven is the write side's (``commands.dead_letters.store``), so this
table can be dropped and rebuilt from the topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from pydantic import ValidationError

from infra.kafka import Position
from schemas.dead_letters import UNREADABLE, DeadLetterRecord, unb64

NAME = "dead_letters"
DLQ_SUFFIX = ".dlq"
SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id text PRIMARY KEY,
    topic text NOT NULL,
    partition integer,
    "offset" bigint,
    reason text NOT NULL,
    key bytea,
    value bytea,
    dead_lettered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_newest ON dead_letters (dead_lettered_at DESC, id);
CREATE INDEX IF NOT EXISTS dead_letters_topic ON dead_letters (topic, dead_lettered_at DESC);
"""


@dataclass(frozen=True)
class Letter:
    id: str
    topic: str
    partition: int | None  # None: unreadable, the original position is not known
    offset: int | None
    reason: str
    key: bytes | None
    value: bytes | None
    dead_lettered_at: datetime

    @property
    def readable(self) -> bool:
        return self.offset is not None


def letter_id(dlq: Position) -> str:
    return f"{dlq.topic}:{dlq.partition}:{dlq.offset}"


def read_letter(dlq: Position, key: bytes | None, value: bytes | None,
                timestamp: float | None = None) -> Letter:
    """The dead letter the record at ``dlq`` holds (``timestamp``: the record's, in
    seconds; else now)."""
    at = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    source = dlq.topic.removesuffix(DLQ_SUFFIX)
    try:
        record = DeadLetterRecord.model_validate_json(value or b"")
    except ValidationError:
        record = None
    if record is None or record.topic != source:  # a redrive goes back where it came from
        return Letter(letter_id(dlq), source, None, None, UNREADABLE, key, value, at)
    return Letter(letter_id(dlq), record.topic, record.partition, record.offset,
                  record.reason, unb64(record.key), unb64(record.value), at)


async def apply(conn: asyncpg.Connection, letter: Letter) -> None:
    await conn.execute(
        'INSERT INTO dead_letters (id, topic, partition, "offset", reason, key, value, '
        "dead_lettered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (id) DO NOTHING",
        letter.id, letter.topic, letter.partition, letter.offset, letter.reason, letter.key,
        letter.value, letter.dead_lettered_at)


async def letter(conn: asyncpg.Connection, letter_id: str) -> Letter | None:
    row = await conn.fetchrow("SELECT * FROM dead_letters WHERE id = $1", letter_id)
    return None if row is None else Letter(
        row["id"], row["topic"], row["partition"], row["offset"], row["reason"],
        row["key"], row["value"], row["dead_lettered_at"])
