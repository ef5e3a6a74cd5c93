"""What remote builders (ECS tasks) send to ``/v1/builds/{id}/…`` and get back: the
status events they may report, blob queries with presigned uploads, and receipts."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.events import BuildPlanned, BuildStarted, DeploymentFailed, DeploymentReady
from schemas.uploads import BlobUpload

SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_QUERY_BLOBS = 1000
Sha256 = Annotated[str, StringConstraints(pattern=SHA256.pattern)]
BuildEvent = Annotated[BuildStarted | BuildPlanned | DeploymentReady | DeploymentFailed,
                       Field(discriminator="type")]


class Appended(BaseModel):
    event_id: str


class BlobQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: list[Sha256] = Field(max_length=MAX_QUERY_BLOBS)


class BlobUploads(BaseModel):
    upload: list[BlobUpload] = Field(description="blobs the store lacks, with presigned PUTs")
    present: list[str] = Field(description="blobs already stored: upload nothing")


class ManifestStored(BaseModel):
    deployment_id: str
    files: int
