"""The end of a project: its deletion event and the API's answer to it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from schemas.envelope import Envelope


class ProjectDeleted(Envelope):
    """The project is gone: nothing of it is served from now on, its subdomain and
    custom domains may be claimed again, and its artifacts are collected after the
    retention window (blobs another deployment uses are kept)."""

    type: Literal["ProjectDeleted"] = "ProjectDeleted"
    project_id: str
    name: str
    subdomain: str
    hostnames: list[str] = Field(default_factory=list, description="custom domains released")


class ProjectDeletedOut(BaseModel):
    id: str
    status: Literal["deleted"] = "deleted"
    deleted_at: datetime
    artifacts_collected_after: datetime = Field(
        description="when its build output may be removed from storage")
