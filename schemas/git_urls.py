"""Shape checks for Git URLs. The host allow-list is a setting, checked in ``commands``."""

from __future__ import annotations

from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")


def check_git_url_shape(value: str) -> str:
    """Accept only plain ``http(s)://host[:port]/path`` URLs."""
    if value.startswith("-"):
        raise ValueError("must not start with '-'")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or "::" in value.split("/")[0]:
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    if parts.hostname.startswith("-"):
        raise ValueError("host must not start with '-'")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not parts.path or parts.path == "/":
        raise ValueError("must name a repository path")
    return value


def git_url_host(value: str) -> str:
    return (urlsplit(value).hostname or "").lower()
