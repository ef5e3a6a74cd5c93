"""The compacted ``buildspace.routes`` topic: hostname label -> what the edge serves.

The key is the hostname label under the base domain (``my-site``); a tombstone
(null value) removes it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Route(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hostname: str
    project_id: str
    deployment_id: str
    number: int



def deployment_label(deployment_id: str, subdomain: str) -> str:
    """The immutable per-deployment hostname label, at most 63 characters."""
    return f"{deployment_id[:12]}-{subdomain}"[:63].rstrip("-")
