"""gzip and brotli copies of the compressible files of an output, made at publish time
so the edge never compresses on a request. A variant is kept only when it is smaller
than the file by at least ``MIN_SAVING``; it is a blob like any other (content-addressed,
uploaded once)."""

from __future__ import annotations

import gzip
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import brotli

from builder.collect import CompressedFile, OutputFile
from schemas.artifacts import Encoding

MIN_SIZE = 256
MIN_SAVING = 0.05
COMPRESSIBLE = ("text/", "application/javascript", "application/json",
                "application/manifest+json", "application/xml", "image/svg+xml",
                "application/wasm", "image/x-icon", "font/ttf", "font/otf")


def compressible(content_type: str, size: int) -> bool:
    return size >= MIN_SIZE and content_type.startswith(COMPRESSIBLE)


def _brotli_quality(size: int) -> int:
    """Best for small files; cheaper for big ones so a build is not slowed much."""
    return 11 if size <= 128 << 10 else 9 if size <= 2 << 20 else 5


def _variants(file: OutputFile, directory: Path) -> tuple[CompressedFile, ...]:
    fd = os.open(file.source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    made = []
    encodings: tuple[tuple[Encoding, bytes], ...] = (
        ("br", brotli.compress(data, quality=_brotli_quality(len(data)))),
        ("gzip", gzip.compress(data, compresslevel=9 if len(data) <= 2 << 20 else 6, mtime=0)))
    for encoding, packed in encodings:
        if len(packed) > len(data) * (1 - MIN_SAVING):
            continue
        sha = hashlib.sha256(packed).hexdigest()
        path = directory / f"{sha}.{encoding}"
        path.write_bytes(packed)
        made.append(CompressedFile(encoding, path, sha, len(packed)))
    return tuple(made)


def add_variants(files: list[OutputFile], directory: Path, workers: int = 2
                 ) -> list[OutputFile]:
    """``files`` with their compressed variants (written under ``directory``)."""
    directory.mkdir(mode=0o700, exist_ok=True)
    todo = {f.sha256: f for f in files if compressible(f.content_type, f.size)}
    with ThreadPoolExecutor(max(1, min(workers, os.cpu_count() or 1)),
                            thread_name_prefix="compress") as pool:
        made = dict(zip(todo, pool.map(lambda f: _variants(f, directory), todo.values()),
                        strict=True))
    return [replace(f, variants=made[f.sha256]) if f.sha256 in made else f for f in files]
