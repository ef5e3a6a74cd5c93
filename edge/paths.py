"""Map a request path to the manifest keys that may answer it.

Only keys of the deployment's manifest are ever served, so no path can reach anything
else; on top of that, paths that try (``..``, encoded dots, backslashes, NUL, dotfiles,
overlong paths) are refused before any lookup.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from schemas.uploads import MAX_PATH

# A slash and every byte of the longest site path percent-encoded: any file that may be
# uploaded can be requested however a client encodes its name.
MAX_PATH_BYTES = 1 + 3 * MAX_PATH
ALLOWED_DOTDIRS = frozenset({".well-known"})


class BadPath(Exception):
    """The request path is malformed (answered with 400)."""


def candidates(raw_path: bytes) -> list[str]:
    """Manifest keys to try for ``raw_path``, best first; [] when nothing may match.

    ``/`` and ``/docs/`` mean ``index.html`` and ``docs/index.html``; ``/docs`` means the
    file ``docs``, else ``docs/index.html``.
    """
    path = site_path(raw_path)
    return [] if path is None else keys_for(path, clean_urls=False)


def site_path(raw_path: bytes) -> str | None:
    """The decoded request path (``/a/b``) if it may name a file of the site; None for
    paths that try to escape or reach hidden files. Raises ``BadPath`` if malformed."""
    path = _decode(raw_path)
    segments = _segments(path)
    inner = segments[:-1] if segments[-1] == "" else segments
    if not all(_allowed(segment) for segment in inner):
        return None
    return path


def keys_for(path: str, *, clean_urls: bool) -> list[str]:
    """Manifest keys for a path ``site_path`` accepted, best first. With clean URLs,
    ``/about`` (and ``/about/``) also mean ``about.html``."""
    key = path[1:]
    if key == "":
        return ["index.html"]
    if key.endswith("/"):
        key = key[:-1]
        return [f"{key}/index.html", *([f"{key}.html"] if clean_urls else [])]
    return [key, *([f"{key}.html"] if clean_urls else []), f"{key}/index.html"]


def _decode(raw_path: bytes) -> str:
    if len(raw_path) > MAX_PATH_BYTES:
        raise BadPath("path too long")
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("path is not UTF-8") from None
    if not path.startswith("/"):
        raise BadPath("path must start with /")
    if any(ord(char) < 0x20 or char == "\x7f" for char in path):
        raise BadPath("control character in path")
    return path


def _segments(path: str) -> list[str]:
    return path[1:].split("/")


def _allowed(segment: str) -> bool:
    """Not empty, not ``.``/``..``, not a dotfile, and no backslash."""
    if not segment or "\\" in segment:
        return False
    return not segment.startswith(".") or segment in ALLOWED_DOTDIRS
