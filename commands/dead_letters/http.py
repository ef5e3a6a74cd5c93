"""``POST /v1/dead-letters/{id}/redrive``: append a dead letter's original key and value
to its original topic again, once its cause is fixed.

The append goes through the outbox in the transaction that records the redrive, so a
letter is redriven once or not at all; a second redrive is 409. A message still bad is
refused again and comes back as a new dead letter. Only the instance owner may redrive
(``projections.dead_letter_queries.instance_owner_only``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from commands.dead_letters import decide, store
from commands.deps import WriteDep
from infra import actors
from infra.outbox import stage_raw
from projections import dead_letter_queries, dead_letters
from projections.dead_letter_queries import FORBIDDEN, LetterId, instance_owner_only
from schemas.dead_letters import DeadLetterOut
from schemas.errors import Conflict

router = APIRouter(prefix="/v1", tags=["dead letters"],
                   dependencies=[Depends(instance_owner_only)])


@router.post("/dead-letters/{letter_id}/redrive", response_model=DeadLetterOut,
             responses={**FORBIDDEN, 404: {"description": "no such dead letter"},
                        409: {"description": "redriven already, or unreadable"}})
async def redrive(letter_id: LetterId, platform: WriteDep) -> DeadLetterOut:
    """Append the dead letter's original key and value to its original topic again (once:
    a second redrive is 409); the answer says where it landed once the relay appended it."""
    async with platform.pool.acquire() as conn, conn.transaction():
        letter = decide.redrive(letter_id, await dead_letters.letter(conn, letter_id),
                                await store.redriven(conn, letter_id))
        staged = await stage_raw(conn, letter.topic, letter.key, letter.value,
                                 [actors.header()])
        if not await store.claim(conn, letter_id, staged, actors.current()):
            raise Conflict(f"dead letter {letter_id} was redriven already")
    # Not a read-your-writes position: the projections that track it may not read its topic.
    landed = await platform.relay.published([staged], platform.settings.query_wait_seconds)
    async with platform.pool.acquire() as conn:
        for where in landed:
            await store.landed(conn, letter_id, where)
        detail = await dead_letter_queries.get(conn, letter_id)
    return DeadLetterOut(**detail.model_dump(exclude={"key_base64", "value_base64"}))
