"""Socket.IO for the seed clients: a client that emits ``subscribe`` with
``logs:<project-subdomain>`` receives every new build log line of that project as a
``message`` event carrying ``{"log": "<line>"}`` (JSON text), as the Redis + Socket.IO
seeds did. Served under ``/socket.io`` on the API and on its own port (9002).

A client connects with its token (``auth={"token": "bs_…"}``, or an ``Authorization:
Bearer`` header); a subscription joins only when ``may_read`` says the token may read
that project's logs (the policy's answer, ``infra.compose.policy.may_read_logs``), and
is acknowledged with whether it did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import socketio

from projections.deps import ReadSide
from schemas.logs import BuildLogAppended

log = logging.getLogger("buildspace.socketio")


MayRead = Callable[[str | None, str], Awaitable[bool]]


class LogGateway:
    def __init__(self, platform: ReadSide, may_read: MayRead) -> None:
        self.platform = platform
        self.may_read = may_read
        self._tokens: dict[str, str | None] = {}
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*",
                                        logger=False, engineio_logger=False)
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("subscribe", self.subscribe)
        self.sio.on("unsubscribe", self.unsubscribe)
        self._subdomains: dict[str, str] = {}
        self._queue: asyncio.Queue[BuildLogAppended] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None and header.lower().startswith("bearer "):
            token = header[7:].strip()
        self._tokens[sid] = token if isinstance(token, str) and len(token) < 200 else None

    async def disconnect(self, sid: str, *_: Any) -> None:
        self._tokens.pop(sid, None)

    async def subscribe(self, sid: str, channel: Any) -> bool:
        if not (isinstance(channel, str) and channel.startswith("logs:") and len(channel) < 80):
            return False
        if not await self.may_read(self._tokens.get(sid), channel.removeprefix("logs:")):
            return False
        await self.sio.enter_room(sid, channel)
        return True

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
