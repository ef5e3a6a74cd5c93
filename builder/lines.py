"""Turn a child's output pipe into log lines as they arrive.

Bytes are decoded incrementally (a character split across reads stays whole; invalid
UTF-8 becomes U+FFFD), a carriage return keeps only what a terminal would show, and a
line longer than ``MAX_LINE`` characters is split so one line never becomes a huge event.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Awaitable, Callable

OnLine = Callable[[str, str], Awaitable[None]]
MAX_LINE = 4000
READ_SIZE = 1 << 16


def split_lines(pending: str, max_line: int = MAX_LINE) -> tuple[list[str], str]:
    """(complete lines, the unterminated rest); overlong text is cut into pieces."""
    *complete, rest = pending.split("\n")
    lines = []
    for line in complete:
        line = line.rstrip("\r").rpartition("\r")[2]
        lines.extend(_pieces(line, max_line) or [""])
    while len(rest) >= max_line:
        lines.append(rest[:max_line])
        rest = rest[max_line:]
    return lines, rest


def _pieces(line: str, max_line: int) -> list[str]:
    return [line[i:i + max_line] for i in range(0, len(line), max_line)]


async def pump(stream: asyncio.StreamReader, name: str, on_line: OnLine) -> None:
    """Call ``on_line(name, text)`` for every line of ``stream`` until EOF."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := await stream.read(READ_SIZE):
        lines, pending = split_lines(pending + decoder.decode(chunk))
        for line in lines:
            await on_line(name, line)
    lines, pending = split_lines(pending + decoder.decode(b"", final=True))
    for line in [*lines, *([pending] if pending else [])]:
        await on_line(name, line)
