"""Content types for published files, decided at build time and stored in the manifest.

The system's mime.types differs between machines; the types browsers care about are
fixed here so a deployment is served the same way wherever it was built.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

DEFAULT = "application/octet-stream"
KNOWN = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "text/javascript", ".mjs": "text/javascript", ".cjs": "text/javascript",
    ".json": "application/json", ".map": "application/json",
    ".webmanifest": "application/manifest+json", ".xml": "application/xml",
    ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".ico": "image/x-icon", ".wasm": "application/wasm",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".pdf": "application/pdf", ".mp4": "video/mp4", ".webm": "video/webm",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".zip": "application/zip",
}
# Types that are text although not text/*: they get a charset too.
TEXTUAL = {"application/json", "application/manifest+json", "application/xml",
           "image/svg+xml", "application/javascript"}


def content_type(path: str) -> str:
    """The Content-Type for a site path; text types carry ``; charset=utf-8``."""
    suffix = PurePosixPath(path).suffix.lower()
    kind = KNOWN.get(suffix) or mimetypes.guess_type(path, strict=False)[0] or DEFAULT
    if kind.startswith("text/") or kind in TEXTUAL:
        return f"{kind}; charset=utf-8"
    return kind
