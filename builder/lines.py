"""Turn a child's output pipe into log lines as they arrive.

Bytes are decoded incrementally (a character split across reads stays whole; invalid
UTF-8 becomes U+FFFD), a carriage return keeps only what a terminal would show, and a
line longer than ``MAX_LINE`` bytes (16 KiB, as UTF-8) is split, between characters, so one
line never becomes a huge event.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Awaitable, Callable

OnLine = Callable[[str, str], Awaitable[None]]
MAX_LINE = 16 * 1024  # bytes of UTF-8
READ_SIZE = 1 << 16


def split_lines(pending: str, max_line: int = MAX_LINE) -> tuple[list[str], str]:
    """(complete lines, the unterminated rest); overlong text is cut into pieces of at
    most ``max_line`` UTF-8 bytes."""
    *complete, rest = pending.split("\n")
    lines = []
    for line in complete:
        line = line.rstrip("\r").rpartition("\r")[2]
        lines.extend(_pieces(line, max_line) or [""])
    if len(rest) * 4 > max_line:  # possibly too long: cut off the full pieces
        *full, rest = _pieces(rest, max_line) or [""]
        if len(rest.encode("utf-8", "surrogatepass")) == max_line:
            full, rest = [*full, rest], ""
        lines.extend(full)
    return lines, rest


def _pieces(line: str, max_line: int) -> list[str]:
    """``line`` cut into pieces of at most ``max_line`` UTF-8 bytes, never inside a
    character."""
    if len(line) * 4 <= max_line:  # short enough whatever its characters
        return [line] if line else []
    data, pieces, start = line.encode("utf-8", "surrogatepass"), [], 0
    while start < len(data):
        end = min(start + max_line, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # a continuation byte
            end -= 1
        pieces.append(data[start:end].decode("utf-8", "surrogatepass"))
        start = end
    return pieces


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
