"""Splitting a child's output into log lines."""

from __future__ import annotations

import asyncio

import pytest

from builder.lines import MAX_LINE, pump, split_lines


def test_complete_lines_and_the_unterminated_rest():
    assert split_lines("a\nb\r\n\nc") == (["a", "b", ""], "c")


def test_a_carriage_return_keeps_what_a_terminal_shows():
    assert split_lines("10%\r50%\r100%\n") == (["100%"], "")


def test_overlong_text_is_cut_into_pieces_of_16_kib():
    assert MAX_LINE == 16 * 1024
    lines, rest = split_lines("x" * (2 * MAX_LINE + 5) + "\n" + "y" * (MAX_LINE + 1))
    assert [len(line) for line in lines] == [MAX_LINE, MAX_LINE, 5, MAX_LINE]
    assert rest == "y"
    assert split_lines("z" * MAX_LINE) == (["z" * MAX_LINE], "")
    assert split_lines("z" * (MAX_LINE - 1)) == ([], "z" * (MAX_LINE - 1))


def test_pieces_are_cut_by_bytes_and_never_inside_a_character():
    text = "é" * MAX_LINE + "\n"  # two bytes each
    lines, rest = split_lines(text)
    assert "".join(lines) == "é" * MAX_LINE and rest == ""
    assert [len(line.encode()) for line in lines] == [MAX_LINE, MAX_LINE]
    euro = "a" + "€" * MAX_LINE + "\n"  # three bytes each, off by one
    lines, _ = split_lines(euro)
    assert "".join(lines) == euro[:-1]
    assert all(len(line.encode()) <= MAX_LINE for line in lines)


@pytest.mark.asyncio
async def test_pump_keeps_characters_split_across_reads_whole():
    reader = asyncio.StreamReader()
    encoded = "héllo wörld\nlast".encode()
    for i in range(len(encoded)):
        reader.feed_data(encoded[i:i + 1])
    reader.feed_eof()
    got: list[tuple[str, str]] = []

    async def on_line(stream: str, text: str) -> None:
        got.append((stream, text))

    await pump(reader, "stdout", on_line)
    assert got == [("stdout", "héllo wörld"), ("stdout", "last")]
