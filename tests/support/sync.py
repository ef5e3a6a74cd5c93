"""Running a coroutine from sync test code that may sit inside a running event loop.

Async tests await their coroutines. What stays sync (the session's ``platform`` fixture,
helpers of the dashboard tests, which Playwright's sync API keeps sync because it holds an
event loop in the test's thread) runs a coroutine here: on a private loop in a thread of
its own, so it works whether or not a loop is already running in the caller's thread.

    rows = run_sync(fetch_rows(dsn))
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner() as runner:
        return runner.run(coro)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``coro``'s result, run to completion on a private loop in a fresh thread."""
    with ThreadPoolExecutor(1, thread_name_prefix="run-sync") as pool:
        return pool.submit(_run, coro).result()
