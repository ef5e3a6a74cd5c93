"""Read-your-writes: a query waits (bounded) until the projections have applied every
event this process appended, so a GET right after a command sees its effect.
"""

from __future__ import annotations

import time

import asyncpg

from infra.kafka import Position
from projections import control_plane, routes
from projections.tracking import wait_for

# The read models a GET reads: the control plane, and the routes (production deployment).
READ_MODELS = (control_plane.NAME, routes.NAME)


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
        deadline = time.monotonic() + self.timeout
        for name in READ_MODELS:
            left = max(deadline - time.monotonic(), 0.0)
            if not await wait_for(self.pool, name, wanted, left):
                return False
        return True
