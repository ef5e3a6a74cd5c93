"""What the command side's HTTP routes need, as the composition hands it to them
(``request.app.state.platform``): the write side's port, and ``run``, which runs one
command in a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

import asyncpg
from fastapi import Depends, Request

from commands.accounts.service import AccountService
from commands.service import CommandService, Outcome
from infra.async_object_store import AsyncBucket
from infra.kafka import EventLog
from infra.outbox import Relay
from infra.settings import Settings
from projections.consistency import ReadYourWrites
from schemas.envelope import Meta


class WriteSide(Protocol):
    settings: Settings
    pool: asyncpg.Pool
    events: EventLog
    commands: CommandService
    accounts: AccountService
    consistency: ReadYourWrites
    relay: Relay
    artifacts: AsyncBucket


def get_write_side(request: Request) -> WriteSide:
    return request.app.state.platform  # type: ignore[no-any-return]


WriteDep = Annotated[WriteSide, Depends(get_write_side)]


async def run(platform: WriteSide, handle: Callable[[asyncpg.Connection, Meta], Awaitable[Outcome]]
              ) -> Outcome:
    """Run one command in a transaction and remember where its events landed."""
    async with platform.pool.acquire() as conn, conn.transaction():
        outcome = await handle(conn, Meta.new())
    return await settled(platform, outcome)


async def settled(platform: WriteSide, outcome: Outcome) -> Outcome:
    """After the commit: wait (bounded) until the relay has appended the outcome's
    events, so a read by this caller waits for the projections to apply them."""
    outcome.positions = await platform.relay.published(
        outcome.staged, platform.settings.query_wait_seconds)
    platform.consistency.appended(outcome.positions)
    return outcome
