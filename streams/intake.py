"""Commands from other systems on ``buildspace.commands``: the same models and
validation as HTTP; the outcome is published as ``CommandAccepted`` or
``CommandRejected`` (keyed by the command's project, else by the command id).
A command id already processed is not applied twice.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from commands.projects import store
from commands.service import CommandService, Outcome
from infra import actors
from infra.kafka import EventLog
from infra.settings import Settings
from schemas.audit import Actor
from schemas.commands import CommandMessage
from schemas.envelope import Meta, new_id
from schemas.errors import BuildspaceError
from schemas.events import CommandAccepted, CommandRejected


def rejection(value: Any, exc: ValidationError | BuildspaceError) -> CommandRejected:
    body: dict[str, Any] = value if isinstance(value, dict) else {}
    command_id = str(body.get("command_id") or new_id())[:128]
    command: dict[str, Any] = body["command"] if isinstance(body.get("command"), dict) else {}
    if isinstance(exc, ValidationError):
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                  for e in exc.errors()]
        status, reason = 422, "invalid command: " + "; ".join(
            f"{e['field']}: {e['message']}" for e in errors)
    else:
        errors = [{"field": exc.field, "message": exc.message}] if exc.field else []
        status, reason = exc.status, exc.message
    return CommandRejected(
        stream_id=str(command.get("project_id") or command_id), command_id=command_id,
        command_type=command.get("type"), status=status, reason=reason, errors=errors,
        correlation_id=body.get("correlation_id"))


async def execute(service: CommandService, conn: asyncpg.Connection, msg: CommandMessage
                  ) -> Outcome:
    meta = Meta(correlation_id=msg.correlation_id or msg.command_id,
                causation_id=msg.command_id)
    return await service.execute(conn, msg.command, meta)


async def apply(service: CommandService, pool: asyncpg.Pool, msg: CommandMessage
                ) -> CommandAccepted | None:
    async with pool.acquire() as conn, conn.transaction():
        if await store.processed_outcome(conn, msg.command_id) is not None:
            return None
        outcome = await execute(service, conn, msg)
        await store.record_processed(conn, msg.command_id, {"accepted": True})
    return CommandAccepted(
        stream_id=outcome.state.project_id, command_id=msg.command_id,
        command_type=msg.command.type, event_ids=[e.event_id for e in outcome.events],
        correlation_id=msg.correlation_id or msg.command_id, causation_id=msg.command_id)


async def handle_command(service: CommandService, pool: asyncpg.Pool, events: EventLog,
                         settings: Settings, value: bytes | None) -> None:
    try:
        body = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        body = None
    sender = body.get("actor") if isinstance(body, dict) else None
    with actors.acting(Actor(kind="intake", id=sender if isinstance(sender, str)
                             and 0 < len(sender) <= 200 else None)):
        outcome: CommandAccepted | CommandRejected | None
        try:
            msg = CommandMessage.model_validate(body)
            outcome = await apply(service, pool, msg)
        except (ValidationError, BuildspaceError) as exc:
            if isinstance(exc, BuildspaceError) and exc.status >= 500:
                raise
            outcome = rejection(body, exc)
        if outcome is not None:
            await events.append(settings.topic_events, outcome.stream_id, outcome)
