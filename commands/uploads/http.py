"""Deploy a local directory without git (``buildspace deploy``): name the files by
sha256, upload the blobs the platform lacks, deploy the upload.

``POST /v1/projects/{id}/uploads`` validates the file list, stores it as an upload and
answers with a presigned PUT for each missing blob; ``POST …/uploads/{upload_id}/deploy``
admits what was sent (``commands.upload_store.admit``), checks that every blob is stored
at its size, then appends ``DeploymentRequested``: the worker publishes the files as
they are (``builder.prebuilt_runner``) or builds them. A refused request appends
nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, status

from commands.builds.http import Ingest, IngestDep, in_store, presigned, store, stored_sizes
from commands.deployments.http import deployment_response
from commands.deps import WriteDep, WriteSide, settled
from commands.projects import store as write_side
from commands.projects.decide import require
from commands.uploads.decide import request_upload_deployment
from commands.uploads.store import admit, read_record
from infra import actors
from infra.grants import grant_upload
from schemas.api import DeploymentAccepted
from schemas.envelope import Meta, dumps, new_id
from schemas.errors import Conflict, Invalid, NotFound
from schemas.uploads import (
    BlobUpload,
    CreateUpload,
    DeployUpload,
    UploadOut,
    UploadRecord,
    check_files,
    distinct,
    staged_key,
    upload_key,
)

router = APIRouter(prefix="/v1/projects/{project_id}/uploads", tags=["uploads"])
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


async def require_project(platform: WriteSide, project_id: str) -> None:
    async with platform.pool.acquire() as conn, conn.transaction():
        require(await write_side.load_for_update(conn, project_id), project_id)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UploadOut, responses={
    404: {"description": "no such project"},
    422: {"description": "a path or size is not acceptable (the field names the file)"}})
async def create_upload(project_id: str, body: CreateUpload, platform: WriteDep,
                        ingest: IngestDep) -> UploadOut:
    """Start a deployment of files: which of their blobs the platform lacks, each with a
    presigned PUT URL."""
    await require_project(platform, project_id)
    total = check_files(body.files, platform.settings.build_output_mb << 20)
    wanted = distinct(body.files)
    sizes = await stored_sizes(ingest, list(wanted))
    for path, file in body.files.items():
        stored = sizes[file.sha256]
        if stored is not None and stored != file.size:
            raise Invalid(f"{path!r}: a blob with sha256 {file.sha256} has {stored} bytes, "
                          f"not {file.size}", field=f"files.{path}")
    missing = {sha: size for sha, size in wanted.items() if sizes[sha] is None}
    record = UploadRecord(upload_id=new_id(), project_id=project_id, files=body.files,
                          staged=missing, created_at=datetime.now(UTC))
    grants = await presigned(presign, ingest, record)
    await store(ingest, upload_key(record.upload_id), dumps(record))
    return UploadOut(upload_id=record.upload_id, files=len(body.files), total_bytes=total,
                     missing=grants, present=len(wanted) - len(missing))


def presign(ingest: Ingest, record: UploadRecord) -> list[BlobUpload]:
    bucket = ingest.store.name
    return [BlobUpload(**vars(grant_upload(ingest.presigner, bucket, sha,
                                           key=staged_key(record.upload_id, sha))))
            for sha in record.staged]


@router.post("/{upload_id}/deploy", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted, responses={
                 404: {"description": "no such project, or no such upload of it"},
                 409: {"description": "a blob was not uploaded (the field names the file)"},
                 422: {"description": "uploaded bytes do not match their sha256 (the "
                                      "field names the file)"}})
async def deploy(project_id: str, upload_id: str, platform: WriteDep, ingest: IngestDep,
                 body: Annotated[DeployUpload | None, Body()] = None) -> DeploymentAccepted:
    """Deploy an upload once its missing blobs are sent: published as it is by the
    worker or, with ``build``, built like a checkout. Either way it is queued; a
    malformed site configuration fails the deployment, naming the file and line."""
    body = body or DeployUpload()
    await require_project(platform, project_id)
    record = await load_record(ingest, project_id, upload_id)
    await in_store(admit(ingest.store, record))
    await check_stored(ingest, record)
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        state = await write_side.load_for_update(conn, project_id)
        requested = request_upload_deployment(state, upload_id, new_id(), body.build,
                                              body.target, body.build_cache, meta,
                                              requested_by=actors.current())
        outcome = await platform.commands.append_decided(conn, state, [requested])
    await settled(platform, outcome)
    return deployment_response(outcome, platform.settings)


async def load_record(ingest: Ingest, project_id: str, upload_id: str) -> UploadRecord:
    unknown = NotFound(f"upload {upload_id} of project {project_id} not found",
                       field="upload_id")
    if not UPLOAD_ID.fullmatch(upload_id):
        raise unknown
    record = await in_store(read_record(ingest.store, upload_id))
    if record is None or record.project_id != project_id:
        raise unknown
    return record


async def check_stored(ingest: Ingest, record: UploadRecord) -> None:
    sizes = await stored_sizes(ingest, list(distinct(record.files)))
    for path, file in sorted(record.files.items()):
        if sizes[file.sha256] != file.size:
            raise Conflict(f"{path!r} was not uploaded: blob {file.sha256} ({file.size} "
                           "bytes) is not stored; PUT it to its URL, then deploy again",
                           field=f"files.{path}")

