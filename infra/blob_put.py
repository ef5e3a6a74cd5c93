"""PUT one file to a presigned object-store URL, as the CLI and remote builders do.

Object stores answer some PUTs with a transient error that the S3 API asks clients to
retry: 500 InternalError, 503 SlowDown, and the 502/504 of a proxy in between. AWS's SDKs
retry them; so do we, a few times with growing pauses, reopening the file each attempt.
Any other refusal is final at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

RETRY_DELAYS_S = (0.2, 1.0, 3.0)
STORE_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class StoreRefused(Exception):
    """The store refused the PUT, or could not be reached, after the retries."""


def delays(pauses: tuple[float, ...] = RETRY_DELAYS_S) -> Iterator[float | None]:
    """The pauses between attempts, then ``None`` for the last attempt."""
    yield from pauses
    yield None


def put_file(store: httpx.Client, url: str, headers: dict[str, str], source: Path | str,
             what: str, pauses: tuple[float, ...] = RETRY_DELAYS_S,
             follow_symlinks: bool = False) -> None:
    """PUT ``source`` to ``url``; ``StoreRefused`` names ``what``. A builder's output is
    never read through a symlink; the CLI deploys the file a symlink names."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    for delay in delays(pauses):
        try:
            fd = os.open(source, flags)
            with os.fdopen(fd, "rb") as body:
                response = store.put(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            if delay is None:
                raise StoreRefused(f"cannot reach the object store for {what}: {exc}") from None
        else:
            if response.is_success:
                return
            if delay is None or response.status_code not in STORE_RETRY_STATUSES:
                raise StoreRefused(f"the store refused {what}: {response.status_code} "
                                   f"{response.text[:300]}")
        time.sleep(delay)
