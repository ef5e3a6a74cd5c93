"""``POST /v1/replays``: rebuild read models from ``buildspace.events`` and swap them in
(``projections.replay``), in the API process, which knows where PostgreSQL and Kafka
are. The answer streams the replay as NDJSON (``schemas.replays``) and ends with its
summary, or with why it failed.

Read models are the platform's, not a team's: the policy asks for the admin scope, and
the route for the instance owner (403 for anyone else). One replay runs at a time (409).
A client that goes away stops its replay; unless the swap is done, nothing changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from projections import registry
from projections.deps import ReadDep
from projections.replay import Replay
from schemas.errors import BuildspaceError, Forbidden
from schemas.replays import ReplayFailed, ReplayLine, ReplayRequest

log = logging.getLogger("buildspace.replay")
router = APIRouter(prefix="/v1", tags=["replays"])


class NdjsonResponse(StreamingResponse):
    media_type = "application/x-ndjson"


class NdjsonLines(JSONResponse):
    """For the OpenAPI only: each line of the answer is the route's model."""

    media_type = "application/x-ndjson"


async def lines(replay: Replay) -> AsyncIterator[bytes]:
    """The replay's lines; it runs in a task of its own, so a client that leaves
    cancels it and it still cleans up after itself."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def work() -> None:
        try:
            async for line in replay.run():
                await queue.put(line)
        except BuildspaceError as exc:
            await queue.put(ReplayFailed(message=exc.message))
        except Exception as exc:  # noqa: BLE001 - said in the answer, logged here
            log.exception("replay failed")
            await queue.put(ReplayFailed(message=f"internal error: {type(exc).__name__}"))
        finally:
            await asyncio.shield(replay.close())  # whether or not the client is there
            queue.put_nowait(None)

    task = asyncio.create_task(work(), name="replay")
    try:
        while (line := await queue.get()) is not None:
            yield (line.model_dump_json() + "\n").encode()
    finally:
        task.cancel()


@router.post("/replays", response_class=NdjsonLines, response_model=ReplayLine,
             response_description="one JSON object a line: started, progress lines, then "
                                  "swapped or failed",
             responses={
                 403: {"description": "not the instance owner, or a token without the "
                                      "admin scope"},
                 409: {"description": "a replay is running already, or a live table's "
                                      "columns differ from its definition"}})
async def start_replay(request: Request, read: ReadDep, body: ReplayRequest | None = None
                       ) -> NdjsonResponse:
    """Rebuild the read models (or the one named) from the first event into fresh tables
    and swap them in atomically; the API keeps answering. Streams NDJSON progress lines
    and ends with the summary (``swapped``) or why it failed (``failed``)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or not principal.instance_owner:
        raise Forbidden("only the instance owner may replay the read models")
    chosen = registry.chosen(body.projection if body else None)
    replay = await Replay.begin(read.settings, chosen)
    return NdjsonResponse(lines(replay))
