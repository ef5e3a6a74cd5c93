"""The object graph of the API process, set as ``app.state.platform``: it is both the
write side's port (``commands.deps.WriteSide``) and the read side's
(``projections.deps.ReadSide``)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from commands.accounts.service import AccountService
from commands.service import CommandService
from infra.async_object_store import AsyncBucket
from infra.kafka import EventLog
from infra.outbox import Relay
from infra.settings import Settings
from projections.analytics import RequestAnalytics
from projections.consistency import ReadYourWrites
from projections.live import LiveLogs
from projections.logs import LogStore


@dataclass
class Platform:
    settings: Settings
    pool: asyncpg.Pool
    events: EventLog
    commands: CommandService
    accounts: AccountService
    consistency: ReadYourWrites
    logs: LogStore
    live: LiveLogs
    analytics: RequestAnalytics
    relay: Relay
    artifacts: AsyncBucket
