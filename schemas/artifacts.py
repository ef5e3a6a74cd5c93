"""Content-addressed artifacts: blobs by sha256 and one manifest per deployment.

The manifest also carries how the site is served (``SiteConfig``: clean URLs, trailing
slashes, SPA fallback, redirects, rewrites and headers), read at build time from the
repository's ``buildspace.json`` and the output's Netlify ``_redirects``/``_headers``,
and, per file, the gzip and brotli variants compressed at publish time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Encoding = Literal["br", "gzip"]
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class Variant(BaseModel):
    """A compressed copy of a file, itself a blob."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    size: int


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    size: int
    content_type: str
    encodings: dict[Encoding, Variant] = Field(default_factory=dict)

    def blobs(self) -> list[tuple[str, int]]:
        """(sha256, size) of the file and of each compressed variant."""
        return [(self.sha256, self.size), *((v.sha256, v.size) for v in self.encodings.values())]


class Rule(BaseModel):
    """A redirect (3xx), a rewrite (200: serve ``destination``'s file at ``source``) or
    a custom status for a path (404, 410, …). ``source`` is a path pattern: ``:name``
    matches one segment, ``:name*`` and ``*`` (named ``splat``) the rest of the path;
    ``destination`` may use them (``/blog/:slug``, ``/new/:splat``). A ``force``d rule
    applies even when a file exists at the path; others only on a miss."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    destination: str
    status: int = 308
    force: bool = True


class HeaderRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    headers: dict[str, str]


class SiteConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clean_urls: bool | None = Field(default=None, description="None: /about also serves "
                                    "about.html; True: and /about.html redirects to /about; "
                                    "False: only exact file names")
    trailing_slash: bool | None = Field(default=None, description="True: add one, False: "
                                        "remove it (308); None: both forms work")
    spa_fallback: bool = Field(default=False, description="a missing page serves "
                                                          "index.html with 200")
    rules: list[Rule] = Field(default_factory=list)
    headers: list[HeaderRule] = Field(default_factory=list)


class Manifest(BaseModel):
    """``files`` maps a site path without leading slash (``assets/app.js``) to its blob."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment_id: str
    files: dict[str, ManifestEntry]
    site: SiteConfig = SiteConfig()
    published_at: datetime | None = None


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def manifest_key(deployment_id: str) -> str:
    return f"manifests/{deployment_id}.json"
