"""Commands from other systems on ``buildspace.commands``: the same models and
validation as HTTP; the outcome is published as ``CommandAccepted`` or
``CommandRejected`` (keyed by the command's project, else by the command id).

The command id is the idempotency key: its outcome, accepted or rejected, is recorded in
the transaction that writes the events and the outcome event to the outbox, so a
redelivered command (the worker died before committing its offset) appends nothing and
publishes nothing again.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from commands.projects import store
from commands.service import CommandService, Outcome
from infra import actors, outbox
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


async def apply(service: CommandService, pool: asyncpg.Pool, msg: CommandMessage) -> None:
    """Apply ``msg`` once: its events and ``CommandAccepted`` in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        if await store.processed_outcome(conn, msg.command_id) is not None:
            return
        outcome = await execute(service, conn, msg)
        accepted = CommandAccepted(
            stream_id=outcome.state.project_id, command_id=msg.command_id,
            command_type=msg.command.type, event_ids=[e.event_id for e in outcome.events],
            correlation_id=msg.correlation_id or msg.command_id, causation_id=msg.command_id)
        await outbox.stage(conn, service.settings.topic_events, accepted.stream_id, accepted)
        await store.record_processed(conn, msg.command_id, {"accepted": True})


async def reject(pool: asyncpg.Pool, settings: Settings, rejected: CommandRejected,
                 recorded: bool) -> None:
    """Publish ``rejected``; with ``recorded`` (the sender named a command id), only the
    first time that id is rejected or accepted."""
    async with pool.acquire() as conn, conn.transaction():
        if recorded:
            if await store.processed_outcome(conn, rejected.command_id) is not None:
                return
            await store.record_processed(conn, rejected.command_id, {
                "accepted": False, "status": rejected.status, "reason": rejected.reason})
        await outbox.stage(conn, settings.topic_events, rejected.stream_id, rejected)


def named_command_id(body: Any) -> bool:
    given = body.get("command_id") if isinstance(body, dict) else None
    return isinstance(given, str) and 0 < len(given) <= 128


async def handle_command(service: CommandService, pool: asyncpg.Pool,
                         settings: Settings, value: bytes | None) -> None:
    try:
        body = orjson.loads(value or b"null")
    except orjson.JSONDecodeError:
        body = None
    sender = body.get("actor") if isinstance(body, dict) else None
    with actors.acting(Actor(kind="intake", id=sender if isinstance(sender, str)
                             and 0 < len(sender) <= 200 else None)):
        try:
            msg = CommandMessage.model_validate(body)
            await apply(service, pool, msg)
        except (ValidationError, BuildspaceError) as exc:
            if isinstance(exc, BuildspaceError) and exc.status >= 500:
                raise
            await reject(pool, settings, rejection(body, exc), named_command_id(body))
