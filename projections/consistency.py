"""Read-your-writes: a query waits (bounded) until the projections have applied every
event this process appended, so a GET right after a command sees its effect.
"""

from __future__ import annotations

import asyncpg

from infra.kafka import Position
from projections import control_plane
from projections.tracking import wait_for


class ReadYourWrites:
    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout
        self._latest: dict[tuple[str, int], int] = {}

    def appended(self, positions: list[Position]) -> None:
        for p in positions:
            key = (p.topic, p.partition)
            self._latest[key] = max(self._latest.get(key, -1), p.offset)

    def pending(self) -> list[Position]:
        return [Position(t, part, off) for (t, part), off in self._latest.items()]

    async def wait(self, positions: list[Position] | None = None) -> bool:
        wanted = self.pending() if positions is None else positions
        return await wait_for(self.pool, control_plane.NAME, wanted, self.timeout)
