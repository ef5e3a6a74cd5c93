"""The one way tests wait: poll a condition until it holds, or fail saying what did not
happen. The interval is a poll interval, never synchronisation; the timeout is generous
because these machines are shared and noisy, and no test asserts how long anything took.

    eventually(lambda: site.get("/").status_code == 200, what="the site is served")
    await eventually_async(lambda: consumer_has(records), what="every record read back")
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30, what: str = "the condition",
               interval: float = 0.02) -> T:
    """``check()``'s first truthy result, polling until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s (last: {result!r})")
        time.sleep(interval)


async def eventually_async(check: Callable[[], Any], timeout: float = 30,
                           what: str = "the condition", interval: float = 0.02) -> Any:
    """The first truthy result of ``check()`` (awaited when it is a coroutine), polling
    until ``timeout`` seconds while the event loop runs everything else."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        result = await answer if inspect.isawaitable(answer) else answer
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s (last: {result!r})")
        await asyncio.sleep(interval)
