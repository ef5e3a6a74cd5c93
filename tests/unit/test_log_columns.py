"""The log projection's column-oriented rows: one column per ``COLUMNS`` entry, in line
order, with timestamps as whole milliseconds since the epoch (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from projections.logs import COLUMNS, log_columns
from schemas.logs import BuildLogAppended, LogLine


def test_columns_hold_every_line_in_order_with_exact_milliseconds() -> None:
    late = datetime(2026, 12, 4, 15, 40, 8, 999_999, tzinfo=UTC)
    east = datetime(2026, 12, 4, 17, 40, 8, 1_500, tzinfo=timezone(timedelta(hours=2)))
    batches = [
        BuildLogAppended(stream_id="d1", project_id="p1", deployment_id="d1", lines=[
            LogLine(seq=1, stream="stdout", ts=late, line="one"),
            LogLine(seq=2, stream="stderr", ts=east, line="two")]),
        BuildLogAppended(stream_id="d2", project_id="p2", deployment_id="d2", lines=[
            LogLine(seq=1, stream="system", ts=late.replace(tzinfo=None), line="three")]),
    ]
    columns = dict(zip(COLUMNS, log_columns(batches), strict=True))
    assert columns["deployment_id"] == ["d1", "d1", "d2"]
    assert columns["project_id"] == ["p1", "p1", "p2"]
    assert columns["seq"] == [1, 2, 1]
    assert columns["stream"] == ["stdout", "stderr", "system"]
    assert columns["line"] == ["one", "two", "three"]
    base = int(datetime(2026, 12, 4, 15, 40, 8, tzinfo=UTC).timestamp()) * 1000
    assert columns["ts"] == [base + 999, base + 1, base + 999]  # floored, naive is UTC


def test_no_batches_make_empty_columns() -> None:
    assert log_columns([]) == [[], [], [], [], [], []]
