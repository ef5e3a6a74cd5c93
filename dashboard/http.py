"""Serving the dashboard: ``GET /`` is its page, ``GET /ui/{asset}`` its modules and
stylesheet, each with a Content-Security-Policy that allows scripts, styles and requests
of this origin only (no inline script, no other site, no framing)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from schemas.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".html": "text/html"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",  # revalidated: a new version shows on the next load
}
router = APIRouter(tags=["dashboard"], include_in_schema=False)


def asset_file(name: str) -> Path:
    """The file under ``static/`` named by ``name``; a 404 for anything else (a path out
    of the folder, a folder, a type the dashboard does not ship)."""
    target = (STATIC / name).resolve()
    if (not target.is_relative_to(STATIC) or not target.is_file()
            or target.suffix not in TYPES or len(name) > 200):
        raise NotFound(f"no dashboard file {name[:200]!r}")
    return target


@router.get("/")
async def page() -> FileResponse:
    """The dashboard."""
    return FileResponse(STATIC / "index.html", media_type=TYPES[".html"], headers=HEADERS)


@router.get("/ui/{name:path}")
async def asset(name: str) -> FileResponse:
    """One of the dashboard's files."""
    target = asset_file(name)
    return FileResponse(target, media_type=TYPES[target.suffix], headers=HEADERS)
