"""Who is acting: the actor every event appended in this context is made by, carried
in the Kafka record's ``actor`` header (the event's metadata, outside its schema).

The API's policy sets it per request (a user's session, or a personal access token,
with the client's address); deploy hooks and Git webhooks set theirs; anything else,
such as the worker and the builders, acts as the system.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson

from schemas.audit import Actor

HEADER = "actor"

SYSTEM = Actor(kind="system")
_current: ContextVar[Actor] = ContextVar("buildspace_actor", default=SYSTEM)


def act_as(actor: Actor) -> None:
    """From now on in this context (one request, one task), events are ``actor``'s."""
    _current.set(actor)


@contextmanager
def acting(actor: Actor) -> Iterator[None]:
    """Events appended inside are ``actor``'s; the context's own actor comes back after
    (for a loop that acts for one sender after another)."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Actor:
    return _current.get()


def header() -> tuple[str, bytes]:
    return HEADER, orjson.dumps(current().model_dump(exclude_none=True))


def from_headers(headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None) -> Actor:
    """The actor of a consumed record (``SYSTEM`` when it names none): Faust gives the
    headers as a mapping, aiokafka as a list of pairs."""
    items = headers.items() if isinstance(headers, Mapping) else headers or []
    for key, value in items:
        name = key.decode() if isinstance(key, bytes) else key
        if name == HEADER and value:
            try:
                return Actor.model_validate_json(value)
            except ValueError:
                return SYSTEM
    return SYSTEM
