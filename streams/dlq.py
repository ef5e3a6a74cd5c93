"""Dead letters: a malformed message goes to ``<topic>.dlq`` with the reason, and
processing continues. Infrastructure errors are not caught here: they crash through
the supervisor.
"""

from __future__ import annotations

import base64
import logging

import orjson

from infra.kafka import EventLog, Position

log = logging.getLogger("buildspace.dlq")


async def dead_letter(events: EventLog, position: Position, key: bytes | None,
                      value: bytes | None, reason: str) -> None:
    log.warning("dead letter %s: %s", position, reason)
    body = {
        "topic": position.topic, "partition": position.partition, "offset": position.offset,
        "reason": reason[:2000],
        "key": base64.b64encode(key).decode() if key else None,
        "value": base64.b64encode(value).decode() if value else None,
    }
    await events.append_raw(f"{position.topic}.dlq", key, orjson.dumps(body))
