"""Properties of ranged and conditional GETs at the edge (issue 17): for any file size
(0 included) and any Range, If-Range, If-Match, If-Unmodified-Since, If-None-Match and
If-Modified-Since headers, the edge answers as the reference model below, written from
RFC 9110 sections 13 and 14, does.

The edge's own choices, modelled explicitly: of several ranges it sends the first
satisfiable one (a single-part 206, no multipart); a suffix range of an empty file is
satisfiable but cannot be stated in a Content-Range, so the whole (empty) file is sent
with 200; an If-Range holding a date (or a weak tag) is false, so the whole file is sent.

    .venv/bin/pytest tests/edge/test_properties_range.py
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.responses import Response
from tests.edge.in_memory import deployment, serve

EPOCH = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Answer:
    status: int
    content_range: str | None = None
    body: bytes | None = None  # None: not compared (304, 412)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def date(value: str | None) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def tags(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(",")]


def model(body: bytes, etag: str, modified: datetime | None, h: dict[str, str]) -> Answer:
    """RFC 9110 13.2.2 (precondition order) and 14 (Range) for a GET."""
    if "if-match" in h:  # strong comparison
        if not any(tag in ("*", etag) for tag in tags(h["if-match"])):
            return Answer(412)
    elif modified is not None and (since := date(h.get("if-unmodified-since"))) is not None \
            and modified > since:
        return Answer(412)
    if "if-none-match" in h:  # weak comparison
        if any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags(h["if-none-match"])):
            return Answer(304)
    elif modified is not None and (since := date(h.get("if-modified-since"))) is not None \
            and modified <= since:
        return Answer(304)
    whole = Answer(200, None, body)
    if "range" not in h or h.get("if-range", etag) != etag:
        return whole
    spans = range_set(h["range"])
    if spans is None:  # not bytes, or not valid: ignored
        return whole
    size = len(body)
    for first, last in spans:
        if first is None and last and size:
            start = max(size - last, 0)
            return Answer(206, f"bytes {start}-{size - 1}/{size}", body[start:])
        if first is not None and first < size:
            end = size - 1 if last is None else min(last, size - 1)
            return Answer(206, f"bytes {first}-{end}/{size}", body[first:end + 1])
    if size == 0 and any(first is None and last for first, last in spans):
        return whole
    return Answer(416, f"bytes */{size}", None)


def range_set(value: str) -> list[tuple[int | None, int | None]] | None:
    """``bytes=`` ranges as (first, last), (first, None) or (None, suffix length); None
    if the unit is not bytes or any range is malformed."""
    unit, sep, rest = value.partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    spans: list[tuple[int | None, int | None]] = []
    for spec in rest.split(","):
        spec = spec.strip(" \t")
        if not spec:
            continue
        if m := re.fullmatch(r"([0-9]+)-([0-9]*)", spec):
            first, last = int(m[1]), int(m[2]) if m[2] else None
            if last is not None and last < first:
                return None
            spans.append((first, last))
        elif m := re.fullmatch(r"-([0-9]+)", spec):
            spans.append((None, int(m[1])))
        else:
            return None
    return spans or None


def observed(response: Response, compare_body: bool) -> Answer:
    headers = dict(response.headers)
    content_range = headers.get(b"content-range")
    return Answer(response.status, content_range.decode() if content_range else None,
                  response.body if compare_body else None)


NUMBER = st.integers(0, 24).map(str) | st.sampled_from(["", "00", "+1", "-1", "1_0", "\u0663",
                                                        " 1", "99999999999999999999"])
SPEC = st.one_of(st.builds(lambda a, b: f"{a}-{b}", NUMBER, NUMBER),
                 st.builds(lambda a: f"-{a}", NUMBER), st.sampled_from(["", "-", "abc", " "]))
RANGE = st.one_of(
    st.builds(lambda unit, specs, sep: unit + "=" + sep.join(specs),
              st.sampled_from(["bytes", "bytes", "BYTES", "Bytes", "items", "bytes ", ""]),
              st.lists(SPEC, min_size=1, max_size=3), st.sampled_from([",", ", ", " ,\t"])),
    st.text(max_size=12))


def conditions(etag: str) -> st.SearchStrategy[dict[str, str]]:
    """Some of the conditional headers, each drawn around the file's validators."""
    moment = st.integers(-3, 3).map(lambda s: http_date(EPOCH + timedelta(seconds=s)))
    a_date = moment | st.sampled_from(["", "yesterday", "Fri, 02 Jan 2026 03:04:05 -0000",
                                       "Friday, 02-Jan-26 03:04:05 GMT"])
    tag = st.sampled_from([etag, f"W/{etag}", '"other"', "*", etag.strip('"'), ""])
    tag_list = st.lists(tag, min_size=1, max_size=3).map(", ".join)
    return st.fixed_dictionaries({"range": RANGE}) | st.fixed_dictionaries({}, optional={
        "range": RANGE, "if-range": tag | moment, "if-match": tag_list,
        "if-none-match": tag_list, "if-unmodified-since": a_date, "if-modified-since": a_date})


def file_body(size: int) -> bytes:
    return bytes(range(65, 65 + size))


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


CASES = st.integers(0, 20).flatmap(lambda size: st.tuples(
    st.just(size), st.none() | st.integers(-2, 2), conditions(etag_of(file_body(size)))))


@pytest.mark.asyncio
@settings(max_examples=250, deadline=None)
@given(CASES)
@example((10, 0, {"range": "bytes=20-30,2-3"}))
@example((10, 0, {"range": "bytes=abc"}))
@example((10, 0, {"range": "bytes=3-2"}))
@example((10, 0, {"range": "items=0-1"}))
@example((0, 0, {"range": "bytes=-5"}))
@example((0, 0, {"range": "bytes=0-"}))
@example((10, 0, {"if-match": '"other"', "if-none-match": "*"}))
@example((10, 0, {"if-unmodified-since": "Fri, 02 Jan 2026 03:04:04 GMT"}))
async def test_ranges_and_preconditions_answer_as_rfc_9110(
        case: tuple[int, int | None, dict[str, str]]) -> None:
    """For any file size and any mix of Range and conditional headers, a GET's status,
    Content-Range and body are the model's: If-Match, else If-Unmodified-Since (412);
    then If-None-Match, else If-Modified-Since (304); then Range under If-Range (206 of
    the first satisfiable range, 416 with ``bytes */size`` if none is, 200 if the Range
    is not ``bytes`` or malformed, or If-Range is not the strong ETag)."""
    size, shift, h = case
    body = file_body(size)
    modified = None if shift is None else EPOCH + timedelta(seconds=shift)
    manifest, bodies = deployment({"f": body}, modified)
    response = await serve(manifest, bodies, b"/f",
                           [(k.encode(), v.encode()) for k, v in h.items()])
    expected = model(body, etag_of(body), modified, h)
    assert observed(response, expected.body is not None) == expected, h
