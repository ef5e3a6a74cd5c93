"""Feeding events to projections by hand, as the worker's agents do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

E = TypeVar("E")
T = TypeVar("T")


def applying(handler: Callable[[Any, E], Awaitable[T]], event: E
             ) -> Callable[[Any], Awaitable[T]]:
    """``handler`` bound to ``event``: what ``apply_once`` runs in its transaction."""
    return lambda conn: handler(conn, event)
