"""The compacted ``buildspace.routes`` topic: hostname -> what the edge serves.

The key is the hostname label under the base domain (``my-site``) or a project's full
custom hostname (``www.example.com``); a tombstone (null value) removes it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str
    project_id: str
    deployment_id: str
    number: int


class RouteRemoved(BaseModel):
    """The edge stops serving ``hostname``: published as a tombstone (null value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str


RouteChange = Route | RouteRemoved


def deployment_label(deployment_id: str, subdomain: str) -> str:
    """The immutable per-deployment hostname label, at most 63 characters."""
    return f"{deployment_id[:12]}-{subdomain}"[:63].rstrip("-")
