"""Run an ASGI app with uvicorn as a task in the current event loop (several roles
share one process under ``buildspace up``), without uvicorn's own signal handling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process that embeds the server owns signal handling


class AsgiServer:
    def __init__(self, app: Any, host: str, port: int, **options: Any) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                lifespan="off", http="httptools", access_log=False, **options)
        self.server = _EmbeddedServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server exited during start")
            await asyncio.sleep(0.01)

    @property
    def task(self) -> asyncio.Task[None]:
        assert self._task is not None, "start() first"
        return self._task

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
