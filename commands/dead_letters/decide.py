"""Whether a dead letter may be redriven, decided without a service."""

from __future__ import annotations

from projections.dead_letters import Letter
from schemas.errors import Conflict, NotFound


def redrive(letter_id: str, letter: Letter | None, redriven: bool) -> Letter:
    """The letter to redrive: 404 for none, 409 for one redriven already or one whose
    original message is not known."""
    if letter is None:
        raise NotFound(f"dead letter {letter_id} not found")
    if redriven:
        raise Conflict(f"dead letter {letter_id} was redriven already")
    if not letter.readable:
        raise Conflict(f"dead letter {letter_id} is unreadable: there is no original "
                       "message to redrive")
    return letter
