"""Content-addressed artifacts: blobs by sha256 and one manifest per deployment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str
    size: int
    content_type: str


class Manifest(BaseModel):
    """``files`` maps a site path without leading slash (``assets/app.js``) to its blob."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deployment_id: str
    files: dict[str, ManifestEntry]


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def manifest_key(deployment_id: str) -> str:
    return f"manifests/{deployment_id}.json"
