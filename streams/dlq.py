"""Dead letters: a malformed message goes to ``<topic>.dlq`` with the reason, and
processing continues. Infrastructure errors are not caught here: they crash through
the supervisor. The record's shape is ``schemas.dead_letters.DeadLetterRecord``; the
worker projects every ``.dlq`` topic into ``dead_letters`` (``projections.dead_letters``).
"""

from __future__ import annotations

import logging

import orjson

from infra.kafka import EventLog, Position
from schemas.dead_letters import DeadLetterRecord

log = logging.getLogger("buildspace.dlq")


async def dead_letter(events: EventLog, position: Position, key: bytes | None,
                      value: bytes | None, reason: str) -> None:
    log.warning("dead letter %s: %s", position, reason)
    record = DeadLetterRecord.of(position.topic, position.partition, position.offset, key,
                                 value, reason)
    await events.append_raw(f"{position.topic}.dlq", key, orjson.dumps(record.model_dump()))
