"""Read side of dead letters: ``GET /v1/dead-letters`` (newest first; pending, redriven
or all; of one topic or of every one) and ``GET /v1/dead-letters/{id}`` with the whole
key and value.

Dead letters are the platform's, not a team's: the policy asks for the admin scope,
and ``instance_owner_only`` for the instance owner (403 for anyone else).
"""

from __future__ import annotations

import codecs
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request

from projections.deps import ReadDep
from schemas.dead_letters import DeadLetterDetailOut, DeadLetterOut, b64
from schemas.errors import Forbidden, NotFound

PREVIEW_BYTES = 2048
LetterId = Annotated[str, Path(min_length=1, max_length=300,
                               description="`<dlq topic>:<partition>:<offset>`")]
Topic = Annotated[str | None, Query(min_length=1, max_length=249,
                                    description="only the letters of this topic")]
State = Annotated[Literal["pending", "redriven", "all"], Query()]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "not the instance owner, or a token without the admin scope"}}

SELECT = (
    "SELECT d.*, r.redriven_at, r.redriven_by, r.partition AS redriven_partition, "
    'r."offset" AS redriven_offset FROM dead_letters d '
    "LEFT JOIN cmd_dead_letter_redrives r ON r.letter_id = d.id")
STATES = {"pending": "r.letter_id IS NULL", "redriven": "r.letter_id IS NOT NULL",
          "all": "true"}


def instance_owner_only(request: Request) -> None:
    """The routes' dependency, after the policy's: the caller is the instance owner."""
    principal = getattr(request.state, "principal", None)
    if principal is None or not principal.instance_owner:
        raise Forbidden("dead letters are the platform's: only the instance owner may "
                        "list or redrive them")


router = APIRouter(prefix="/v1", tags=["dead letters"],
                   dependencies=[Depends(instance_owner_only)])


def as_text(data: bytes | None, limit: int | None = None) -> str | None:
    """Bytes as text, invalid UTF-8 replaced; cut at ``limit`` bytes without a broken
    character at the end."""
    if data is None:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data[:limit], final=limit is None or len(data) <= limit)


def letter_out(row: asyncpg.Record) -> DeadLetterOut:
    value: bytes = row["value"] or b""
    by = row["redriven_by"]
    return DeadLetterOut(
        id=row["id"], topic=row["topic"], partition=row["partition"], offset=row["offset"],
        reason=row["reason"], key=as_text(row["key"]),
        value_preview=as_text(value, PREVIEW_BYTES) or "", value_size=len(value),
        dead_lettered_at=row["dead_lettered_at"],
        state="pending" if row["redriven_at"] is None else "redriven",
        redriven_at=row["redriven_at"], redriven_by=None if by is None else orjson.loads(by),
        redriven_partition=row["redriven_partition"], redriven_offset=row["redriven_offset"])


async def page(conn: asyncpg.Connection, topic: str | None, state: str, limit: int,
               offset: int) -> list[DeadLetterOut]:
    rows = await conn.fetch(
        f"{SELECT} WHERE {STATES[state]} AND ($1::text IS NULL OR d.topic = $1) "
        "ORDER BY d.dead_lettered_at DESC, d.id DESC LIMIT $2 OFFSET $3",
        topic, limit, offset)
    return [letter_out(r) for r in rows]


async def get(conn: asyncpg.Connection, letter_id: str) -> DeadLetterDetailOut:
    row = await conn.fetchrow(f"{SELECT} WHERE d.id = $1", letter_id)
    if row is None:
        raise NotFound(f"dead letter {letter_id} not found")
    return DeadLetterDetailOut(**letter_out(row).model_dump(), key_base64=b64(row["key"]),
                               value_base64=b64(row["value"]))


@router.get("/dead-letters", response_model=list[DeadLetterOut], responses=FORBIDDEN)
async def list_dead_letters(platform: ReadDep, topic: Topic = None, state: State = "pending",
                            limit: Limit = 50, offset: Offset = 0) -> list[DeadLetterOut]:
    """Messages the agents refused (malformed), newest first, each with why and a preview
    of its value; ``state`` picks pending (the default), redriven or all."""
    async with platform.pool.acquire() as conn:
        return await page(conn, topic, state, limit, offset)


@router.get("/dead-letters/{letter_id}", response_model=DeadLetterDetailOut,
            responses={**FORBIDDEN, 404: {"description": "no such dead letter"}})
async def get_dead_letter(letter_id: LetterId, platform: ReadDep) -> DeadLetterDetailOut:
    """One dead letter, with its whole key and value as base64."""
    async with platform.pool.acquire() as conn:
        return await get(conn, letter_id)
