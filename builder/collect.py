"""Collect a build's output directory for publishing: every regular file with its
sha256, size and content type.

The output was written by untrusted code, so this trusted code never follows a link:
entries are classified with ``lstat``, any symlink, FIFO, socket, device or hard-linked
file fails the build, and files are opened with ``O_NOFOLLOW`` and checked to be the
inode that was inspected. Nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from builder.content_types import content_type
from schemas.artifacts import Encoding

MAX_FILES = 100_000
CHUNK = 1 << 20


class OutputRejected(Exception):
    """The output cannot be published; the message names the offending path."""


@dataclass(frozen=True)
class CompressedFile:
    """A gzip or brotli copy of an output file (``builder.variants``)."""

    encoding: Encoding
    source: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class OutputFile:
    path: str  # site path, "/"-separated, no leading slash
    source: Path
    sha256: str
    size: int
    content_type: str
    variants: tuple[CompressedFile, ...] = ()


def check_output_dir(checkout: Path, output: Path) -> Path:
    """``output`` as an absolute path, if it is a real directory inside ``checkout``
    reached without any symlink."""
    top, path = os.path.abspath(checkout), os.path.abspath(output)
    if os.path.commonpath([top, path]) != top:
        raise OutputRejected("the output directory is outside the repository")
    if os.path.realpath(path) != path or os.path.realpath(top) != top:
        raise OutputRejected("the output directory is (or is inside) a symlink")
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise OutputRejected("the output directory is not a directory")
    return Path(path)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _site_path(relative: str) -> str:
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise OutputRejected(f"{relative!r}: the file name is not valid UTF-8") from None
    return relative


def hash_file(path: Path, expected: os.stat_result) -> str:
    """sha256 of the file at ``path``, refusing a link or a swapped inode."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise OutputRejected(f"{path.name}: changed while being read")
        digest = hashlib.sha256()
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(root: Path, entry: os.DirEntry[str], st: os.stat_result) -> OutputFile:
    site = _site_path(os.path.relpath(entry.path, root).replace(os.sep, "/"))
    if not stat.S_ISREG(st.st_mode):
        raise OutputRejected(f"{site}: {_kind(st.st_mode)} is not allowed in the output")
    if st.st_nlink > 1:
        raise OutputRejected(f"{site}: hard links are not allowed in the output")
    sha = hash_file(Path(entry.path), st)
    return OutputFile(site, Path(entry.path), sha, st.st_size, content_type(site))


def collect(checkout: Path, output: Path, max_mb: int | None = None) -> list[OutputFile]:
    """Every file under ``output`` (which must be inside ``checkout``), sorted by path;
    refused when they add up to more than ``max_mb`` MiB."""
    root = check_output_dir(checkout, output)
    files: list[OutputFile] = []
    total, limit = 0, None if max_mb is None else max_mb << 20
    pending = [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    pending.append(Path(entry.path))
                    continue
                total += st.st_size
                if limit is not None and total > limit:
                    raise OutputRejected(f"output is larger than the limit: {max_mb} MiB")
                files.append(_entry(root, entry, st))
                if len(files) > MAX_FILES:
                    raise OutputRejected(f"the output has more than {MAX_FILES} files")
    return sorted(files, key=lambda f: f.path)
