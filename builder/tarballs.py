"""Tarballs from the npm registry: downloaded with their published integrity checked,
and unpacked without letting a name or a link point outside the package."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from builder.registry import RegistryError, Release, stream

MAX_TARBALL = 300 << 20
DOWNLOAD_SECONDS = 600
SRI_HASHES = ("sha512", "sha384", "sha256", "sha1")  # strongest first, as npm checks
Filter = Callable[[tarfile.TarInfo, str], tarfile.TarInfo | None]


def download(release: Release, into: Path) -> None:
    """Stream to disk, hashing as it comes; a mismatch means the bytes are not the ones
    the registry published."""
    what = f"{release.name} {release.version}"
    algorithm, expected = _sri(release)
    digest = hashlib.new(algorithm)
    with open(into, "wb") as out:
        for chunk in stream(release.tarball, MAX_TARBALL, DOWNLOAD_SECONDS, what):
            digest.update(chunk)
            out.write(chunk)
    if digest.digest() != expected:
        raise RegistryError(f"{what}: the tarball from {release.tarball} does not match "
                            f"its published integrity; not installed")


def _sri(release: Release) -> tuple[str, bytes]:
    found = dict(part.split("-", 1) for part in release.integrity.split() if "-" in part)
    for algorithm in SRI_HASHES:
        if algorithm in found:
            with contextlib.suppress(ValueError):
                return algorithm, base64.b64decode(found[algorithm].split("?")[0],
                                                   validate=True)
    raise RegistryError(f"{release.name} {release.version}: no usable integrity hash "
                        f"({release.integrity!r}); not installed")


def _member_filter(only: str | None) -> Filter:
    """npm strips the first path part (usually ``package/``); names that are absolute or
    climb with ``..`` are refused outright, before the "data" filter (which would
    quietly strip a leading ``/``) sees them."""
    def keep(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        name = _inside(member.name)
        if name is None or (only is not None and name != f"bin/{only}"):
            return None
        if member.islnk():
            member = member.replace(linkname=_inside(member.linkname) or "", deep=False)
        return tarfile.data_filter(member.replace(name=name, deep=False), dest)
    return keep


def _inside(name: str) -> str | None:
    """The name below the top directory; None for the top directory itself."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise RegistryError(f"the tarball holds {name!r}, which points outside its package")
    return str(PurePosixPath(*path.parts[1:])) if len(path.parts) > 1 else None


def extract(tarball: Path, into: Path, only: str | None) -> None:
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            archive.extractall(into, filter=_member_filter(only))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RegistryError(f"the tarball cannot be unpacked: {exc}") from None
    if only is not None and not (into / "bin" / only).is_file():
        raise RegistryError(f"the tarball has no bin/{only}")
