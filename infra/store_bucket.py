"""One bucket of ``infra.broker_store``: its keys held sorted in memory, each object a
file under the bucket's folder, conditional writes checked and applied in one step, and
listing pages rendered once and kept until a key inside them changes."""

from __future__ import annotations

import bisect
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass
class Entry:
    size: int
    mtime: float
    etag: str = ""  # quoted md5; "" until first needed after a restart
    listing: bytes = b""  # this key's <Contents> element, rendered once


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Bucket:
    """One bucket's keys, sorted, and their files under ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] = []
        self.entries: dict[str, Entry] = {}
        # Full listing pages, rendered: a partition's batches are appended at the end,
        # so every page but the last stays the same while Tansu lists it on each fetch.
        self.pages: dict[tuple[str, ...], tuple[str, str, bytes]] = {}
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            key = file.relative_to(path).as_posix()
            stat = file.stat()
            self.keys.append(key)
            self.entries[key] = Entry(stat.st_size, stat.st_mtime)

    def file(self, key: str) -> Path:
        parts = key.split("/")
        if (not key or len(key.encode()) > 1024 or "\0" in key
                or any(p in ("", ".", "..") for p in parts)):
            raise S3Error(400, "InvalidArgument", f"key not supported here: {key!r}")
        return self.path.joinpath(*parts)

    def etag(self, key: str, entry: Entry) -> str:
        if not entry.etag:
            entry.etag = _etag(self.file(key).read_bytes())
        return entry.etag

    def put(self, key: str, body: bytes, if_match: str | None, if_none_match: str | None,
            tmp: Path) -> Entry:
        """Write ``key`` if its preconditions hold; no await, so it is one step."""
        target = self.file(key)
        current = self.entries.get(key)
        if if_none_match == "*" and current is not None:
            raise S3Error(412, "PreconditionFailed", f"{key} exists")
        if if_match is not None and (
                current is None or if_match not in ("*", self.etag(key, current))):
            raise S3Error(412, "PreconditionFailed", f"{key} has another ETag")
        staged = tmp / uuid.uuid4().hex
        staged.write_bytes(body)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as e:
            staged.unlink(missing_ok=True)
            raise S3Error(409, "InvalidArgument", f"{key} clashes with another key") from e
        entry = Entry(len(body), target.stat().st_mtime, _etag(body))
        if current is None:
            bisect.insort(self.keys, key)
        self.entries[key] = entry
        self._changed(key)
        return entry

    def delete(self, key: str) -> None:
        if self.entries.pop(key, None) is None:
            return
        del self.keys[bisect.bisect_left(self.keys, key)]
        self.file(key).unlink(missing_ok=True)
        self._changed(key)

    def _changed(self, key: str) -> None:
        """Forget the cached pages ``key`` falls in."""
        stale = [query for query, (after, last, _) in self.pages.items()
                 if after < key <= last + "\U0010ffff"]  # a common prefix's keys too
        for query in stale:
            del self.pages[query]

    def listing(self, key: str, entry: Entry) -> bytes:
        if not entry.listing:
            entry.listing = (
                f"<Contents><Key>{escape(key)}</Key><LastModified>{_iso(entry.mtime)}"
                f"</LastModified><Size>{entry.size}</Size></Contents>"
            ).encode()
        return entry.listing

    def list(self, prefix: str, after: str, limit: int, delimiter: str
             ) -> tuple[list[bytes], list[str], str]:
        """Up to ``limit`` entries and common prefixes after ``after``; the last key
        returned when there are more."""
        if after and delimiter and after.endswith(delimiter):
            after += "\U0010ffff"  # a common prefix: past all of its keys
        start = max(prefix, after)
        i = bisect.bisect_right(self.keys, start) if after >= prefix and after else \
            bisect.bisect_left(self.keys, start)
        contents: list[bytes] = []
        prefixes: list[str] = []
        last = ""
        while i < len(self.keys) and self.keys[i].startswith(prefix):
            if len(contents) + len(prefixes) == limit:
                return contents, prefixes, last
            key = self.keys[i]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = key[:cut + len(delimiter)]
                prefixes.append(common)
                last = common
                i = bisect.bisect_left(self.keys, common + "\U0010ffff")
                continue
            contents.append(self.listing(key, self.entries[key]))
            last = key
            i += 1
        return contents, prefixes, ""


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
