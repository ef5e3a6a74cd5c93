"""The object graph the HTTP roles use, reached through ``Annotated`` dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from commands.service import CommandService
from infra.kafka import EventLog
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
    consistency: ReadYourWrites
    logs: LogStore
    live: LiveLogs
    analytics: RequestAnalytics


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return get_platform(request).settings


async def get_consistent_pool(request: Request) -> asyncpg.Pool:
    """The read-model pool, once the projections caught up with this process's writes."""
    platform = get_platform(request)
    await platform.consistency.wait()
    return platform.pool


PlatformDep = Annotated[Platform, Depends(get_platform)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadPool = Annotated[asyncpg.Pool, Depends(get_consistent_pool)]
