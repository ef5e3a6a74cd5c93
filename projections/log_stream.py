"""A deployment's log as a live stream: the stored history first, then new lines as
the build writes them, status changes on the same stream, and an end once the
deployment is final and every one of its lines was sent. Served as Server-Sent
Events (resumable with ``Last-Event-ID``) and over a WebSocket, with one content.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from projections import queries
from projections.deps import ReadSide
from projections.live import StatusChange
from projections.logs import LogRow
from schemas.errors import BuildspaceError
from schemas.logs import LogLine

router = APIRouter(prefix="/v1", tags=["queries"])

HISTORY_PAGE = 5000
KEEPALIVE_SECONDS = 15.0
GAP_WAIT_SECONDS = 3.0
TAIL_POLL_SECONDS = 0.2  # after the final status, how often the store is asked for the rest
TAIL_WAIT_SECONDS = 30.0  # and for how long
FINAL = ("READY", "FAILED", "CANCELED")

Message = tuple[str, dict[str, Any]]


def line_message(seq: int, stream: str, ts: Any, line: str) -> Message:
    return "line", {"seq": seq, "stream": stream, "timestamp": ts, "line": line}


def row_message(row: LogRow) -> Message:
    return line_message(row.seq, row.stream, row.ts, row.line)


def live_message(line: LogLine) -> Message:
    return line_message(line.seq, line.stream, line.ts, line.line)


class Follower:
    """Sends one deployment's lines exactly once and in seq order, whatever mix of
    stored history and live lines they arrive from."""

    def __init__(self, platform: ReadSide, deployment_id: str, after_seq: int) -> None:
        self.platform = platform
        self.deployment_id = deployment_id
        self.last = after_seq

    async def stored(self, before_seq: int | None = None) -> AsyncIterator[Message]:
        while True:
            rows = await self.platform.logs.page(self.deployment_id, self.last, HISTORY_PAGE,
                                                 before_seq=before_seq)
            for row in rows:
                self.last = row.seq
                yield row_message(row)
            if len(rows) < HISTORY_PAGE:
                return

    async def fill_to(self, seq: int) -> AsyncIterator[Message]:
        """Lines up to ``seq`` from storage, waiting briefly for the projection."""
        deadline = time.monotonic() + GAP_WAIT_SECONDS
        while self.last < seq and time.monotonic() < deadline:
            async for message in self.stored(before_seq=seq + 1):
                yield message
            if self.last < seq:
                await asyncio.sleep(0.02)

    async def live(self, lines: list[LogLine]) -> AsyncIterator[Message]:
        fresh = [line for line in lines if line.seq > self.last]
        if fresh and fresh[0].seq > self.last + 1:
            async for message in self.fill_to(fresh[0].seq - 1):
                yield message
        for line in fresh:
            if line.seq > self.last:
                self.last = line.seq
                yield live_message(line)


async def follow(platform: ReadSide, deployment_id: str, after_seq: int
                 ) -> AsyncIterator[Message]:
    with platform.live.watch(deployment_id) as queue:
        async with platform.pool.acquire() as conn:
            current = await queries.get_deployment(conn, platform.settings, deployment_id)
        final = StatusChange(current.status, current.failure_reason, current.log_lines) \
            if current.status in FINAL else platform.live.recent_final(deployment_id)
        yield "status", ({"status": final.status, "reason": final.reason} if final else
                         {"status": current.status, "reason": current.failure_reason})
        follower = Follower(platform, deployment_id, after_seq)
        async for message in follower.stored():
            yield message
        tail_until = time.monotonic() + TAIL_WAIT_SECONDS
        while final is None or follower.last < (final.log_lines or 0):
            try:
                item = await asyncio.wait_for(
                    queue.get(), KEEPALIVE_SECONDS if final is None else TAIL_POLL_SECONDS)
            except TimeoutError:
                if final is None:
                    yield "ping", {}
                    continue
                # Final, but lines are missing: the status came ahead of the last lines
                # (another topic), which are on their way here or to the store.
                async for message in follower.stored():
                    yield message
                if time.monotonic() > tail_until:
                    break
                continue
            if isinstance(item, StatusChange):
                yield "status", {"status": item.status, "reason": item.reason}
                if item.final:
                    final, tail_until = item, time.monotonic() + TAIL_WAIT_SECONDS
            else:
                async for message in follower.live(item):
                    yield message
        yield "end", {"status": final.status if final else None, "last_seq": follower.last}


def sse(event: str, data: dict[str, Any]) -> bytes:
    if event == "ping":
        return b": ping\n\n"
    head = f"id: {data['seq']}\n" if event == "line" else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


@router.get("/deployments/{deployment_id}/logs/stream")
async def stream_logs(deployment_id: str, request: Request,
                      after_seq: int = Query(default=0, ge=0),
                      last_event_id: str | None = Header(default=None)) -> StreamingResponse:
    """Server-Sent Events: `line` events (id = seq) history first then live, `status`
    events, and `end` once the deployment is final. Resume with Last-Event-ID."""
    platform: ReadSide = request.app.state.platform
    await platform.consistency.wait()
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after_seq
    messages = follow(platform, deployment_id, start)
    first = await anext(messages)  # a 404 for an unknown deployment, before streaming

    async def body() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n" + sse(*first)
        async for message in messages:
            yield sse(*message)

    return StreamingResponse(body(), media_type="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/deployments/{deployment_id}/logs/ws")
async def websocket_logs(websocket: WebSocket, deployment_id: str, after_seq: int = 0) -> None:
    """The same stream over a WebSocket: JSON messages with a `type` of line, status,
    ping or end; the server closes after end."""
    platform: ReadSide = websocket.app.state.platform
    await platform.consistency.wait()
    await websocket.accept()
    try:
        async for event, data in follow(platform, deployment_id, after_seq):
            await websocket.send_text(orjson.dumps({"type": event, **data}).decode())
        await websocket.close()
    except BuildspaceError as exc:
        await websocket.send_text(orjson.dumps({"type": "error", **exc.to_json()}).decode())
        await websocket.close(code=4000 + exc.status)
    except WebSocketDisconnect:
        return
