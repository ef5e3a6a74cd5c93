"""What the read side's HTTP routes need, as the composition hands it to them
(``request.app.state.platform``): the read side's port."""

from __future__ import annotations

from typing import Annotated, Protocol

import asyncpg
from fastapi import Depends, Request

from infra.settings import Settings
from projections.analytics import RequestAnalytics
from projections.consistency import ReadYourWrites
from projections.live import LiveLogs
from projections.logs import LogStore


class ReadSide(Protocol):
    settings: Settings
    pool: asyncpg.Pool
    consistency: ReadYourWrites
    logs: LogStore
    live: LiveLogs
    analytics: RequestAnalytics


def get_read_side(request: Request) -> ReadSide:
    return request.app.state.platform  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return get_read_side(request).settings


async def get_consistent_pool(request: Request) -> asyncpg.Pool:
    """The read-model pool, once the projections caught up with this process's writes."""
    read = get_read_side(request)
    await read.consistency.wait()
    return read.pool


ReadDep = Annotated[ReadSide, Depends(get_read_side)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadPool = Annotated[asyncpg.Pool, Depends(get_consistent_pool)]
