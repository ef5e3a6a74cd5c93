"""Socket.IO for the seed clients: a client that emits ``subscribe`` with
``logs:<project-subdomain>`` receives every new build log line of that project as a
``message`` event carrying ``{"log": "<line>"}`` (JSON text), as the Redis + Socket.IO
seeds did. Served under ``/socket.io`` on the API and on its own port (9002).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import socketio

from projections.deps import ReadSide
from schemas.logs import BuildLogAppended

log = logging.getLogger("buildspace.socketio")


class LogGateway:
    def __init__(self, platform: ReadSide) -> None:
        self.platform = platform
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*",
                                        logger=False, engineio_logger=False)
        self.sio.on("subscribe", self.subscribe)
        self.sio.on("unsubscribe", self.unsubscribe)
        self._subdomains: dict[str, str] = {}
        self._queue: asyncio.Queue[BuildLogAppended] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self, sid: str, channel: Any) -> None:
        if isinstance(channel, str) and channel.startswith("logs:") and len(channel) < 80:
            await self.sio.enter_room(sid, channel)

    async def unsubscribe(self, sid: str, channel: Any) -> None:
        if isinstance(channel, str):
            await self.sio.leave_room(sid, channel)

    def start(self) -> None:
        self.platform.live.on_lines(self._queue.put_nowait, lambda: bool(self._rooms()))
        self._task = asyncio.create_task(self._forward(), name="socketio-logs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _rooms(self) -> set[str]:
        return {room for room in self.sio.manager.rooms.get("/", {})
                if isinstance(room, str) and room.startswith("logs:")}

    async def _forward(self) -> None:
        while True:
            batch = await self._queue.get()
            try:
                await self._send(batch)
            except Exception:  # one bad batch or client must not end the gateway
                log.exception("could not forward log lines to Socket.IO")

    async def _send(self, batch: BuildLogAppended) -> None:
        rooms = self._rooms()
        if not rooms:
            return
        room = f"logs:{await self._subdomain(batch.project_id)}"
        if room in rooms:
            for line in batch.lines:
                await self.sio.emit("message", orjson.dumps({"log": line.line}).decode(),
                                    room=room)

    async def _subdomain(self, project_id: str) -> str:
        if project_id not in self._subdomains:
            found = await self.platform.pool.fetchval(
                "SELECT subdomain FROM projects WHERE project_id = $1", project_id)
            if found is None:
                return ""
            self._subdomains[project_id] = found
        return self._subdomains[project_id]

    def asgi(self, other: Any = None) -> Any:
        return socketio.ASGIApp(self.sio, other_asgi_app=other, socketio_path="socket.io")
