"""Blocking set-up work (mounts, cgroups) in a thread, safe against cancellation.

A thread cannot be interrupted: if the build is canceled while one runs, awaiting it
again lets it finish, and ``undo`` takes back what it made, so nothing is set up after
the build's cleanup has run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def settled(fn: Callable[..., T], *args: Any,
                  undo: Callable[[T], object] | None = None) -> T:
    """``fn(*args)`` in a thread; when canceled meanwhile, wait for it, ``undo`` its
    result, and re-raise the cancellation."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            result = await task
            if undo is not None:
                await asyncio.to_thread(undo, result)
        raise
