"""Map a request path to the manifest keys that may answer it.

Only keys of the deployment's manifest are ever served, so no path can reach anything
else; on top of that, paths that try (``..``, encoded dots, backslashes, NUL, dotfiles,
overlong paths) are refused before any lookup.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

MAX_PATH_BYTES = 2048
ALLOWED_DOTDIRS = frozenset({".well-known"})


class BadPath(Exception):
    """The request path is malformed (answered with 400)."""


def candidates(raw_path: bytes) -> list[str]:
    """Manifest keys to try for ``raw_path``, best first; [] when nothing may match.

    ``/`` and ``/docs/`` mean ``index.html`` and ``docs/index.html``; ``/docs`` means the
    file ``docs``, else ``docs/index.html``.
    """
    segments = _segments(_decode(raw_path))
    directory = segments[-1] == ""
    if directory:
        segments.pop()
    if not all(_allowed(segment) for segment in segments):
        return []
    key = "/".join(segments)
    if directory:
        return [f"{key}/index.html" if key else "index.html"]
    return [key, f"{key}/index.html"]


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
