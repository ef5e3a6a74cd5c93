"""The write side's record of redrives: which dead letter was redriven, when, by whom,
through which outbox row, and where the message landed once the relay appended it.

It is the write side's state (a second redrive is refused against it), not a read
model: the ``dead_letters`` projection can be rebuilt from the topics without losing
it, since a letter's id is its place on its dead-letter topic.
"""

from __future__ import annotations

import asyncpg
import orjson

from infra.kafka import Position
from schemas.audit import Actor

SCHEMA = """
CREATE TABLE IF NOT EXISTS cmd_dead_letter_redrives (
    letter_id text PRIMARY KEY,
    outbox_id bigint NOT NULL,
    redriven_at timestamptz NOT NULL DEFAULT now(),
    redriven_by jsonb NOT NULL,
    partition integer,
    "offset" bigint
);
"""


async def redriven(conn: asyncpg.Connection, letter_id: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT true FROM cmd_dead_letter_redrives WHERE letter_id = $1", letter_id))


async def claim(conn: asyncpg.Connection, letter_id: str, outbox_id: int, by: Actor) -> bool:
    """Record the redrive in ``conn``'s transaction; False when another got there first
    (the caller's transaction is then to be rolled back)."""
    return bool(await conn.fetchval(
        "INSERT INTO cmd_dead_letter_redrives (letter_id, outbox_id, redriven_by) "
        "VALUES ($1, $2, $3) ON CONFLICT (letter_id) DO NOTHING RETURNING true",
        letter_id, outbox_id, orjson.dumps(by.model_dump(exclude_none=True)).decode()))


async def landed(conn: asyncpg.Connection, letter_id: str, where: Position) -> None:
    await conn.execute(
        'UPDATE cmd_dead_letter_redrives SET partition = $2, "offset" = $3 '
        "WHERE letter_id = $1", letter_id, where.partition, where.offset)
