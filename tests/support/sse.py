"""A small Server-Sent Events reader for tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson


def events(response: httpx.Response) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """(event, id, data) for each event of a streaming response; comments skipped."""
    event, event_id = "message", None
    data: list[str] = []
    for raw in response.iter_lines():
        if raw == "":
            if data:
                yield event, event_id, orjson.loads("\n".join(data))
            event, event_id, data = "message", None, []
        elif raw.startswith(":"):
            continue
        else:
            field, _, value = raw.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)
