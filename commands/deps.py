"""What the command side's HTTP routes need, as the composition hands it to them
(``request.app.state.platform``): the write side's port."""

from __future__ import annotations

from typing import Annotated, Protocol

import asyncpg
from fastapi import Depends, Request

from commands.service import CommandService
from infra.kafka import EventLog
from infra.settings import Settings
from projections.consistency import ReadYourWrites


class WriteSide(Protocol):
    settings: Settings
    pool: asyncpg.Pool
    events: EventLog
    commands: CommandService
    consistency: ReadYourWrites


def get_write_side(request: Request) -> WriteSide:
    return request.app.state.platform  # type: ignore[no-any-return]


WriteDep = Annotated[WriteSide, Depends(get_write_side)]
