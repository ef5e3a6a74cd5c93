"""Deploy a local directory without git (``buildspace deploy``): name the files by
sha256, upload the blobs the platform lacks, deploy the upload.

``POST /v1/projects/{id}/uploads`` validates the file list, stores it as an upload and
answers with a presigned PUT for each missing blob; ``POST …/uploads/{upload_id}/deploy``
admits what was sent (``builder.prebuilt.admit_staged``), checks that every blob is
stored at its size, then either writes the manifest and appends ``DeploymentRequested``
and ``DeploymentReady`` (served as it is), or appends ``DeploymentRequested`` for a build
of the files. A refused request appends nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Body, status
from pydantic import ValidationError

from builder.prebuilt import UploadRejected, admit_staged, publish_upload
from builder.publish import Published
from builder.site_rules import SiteConfigError
from commands import store as write_side
from commands.build_ingest import Ingest, IngestDep, store, stored_sizes
from commands.decide import require
from commands.deps import WriteDep, WriteSide
from commands.http import deployment_response
from commands.upload_decide import deploy_upload, request_upload_deployment
from infra.grants import grant_upload
from schemas.api import DeploymentAccepted
from schemas.envelope import Meta, dumps, new_id
from schemas.errors import Conflict, Invalid, NotFound, Unavailable
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
T = TypeVar("T")


async def in_store(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking object-store work in a thread; its failures are ``Unavailable``."""
    try:
        return await asyncio.to_thread(fn, *args)
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(f"the artifact store did not answer: {type(exc).__name__}") from None


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
    grants = await in_store(presign, ingest, record)
    await store(ingest, upload_key(record.upload_id), dumps(record))
    return UploadOut(upload_id=record.upload_id, files=len(body.files), total_bytes=total,
                     missing=grants, present=len(wanted) - len(missing))


def presign(ingest: Ingest, record: UploadRecord) -> list[BlobUpload]:
    bucket = ingest.settings.artifacts_bucket
    return [BlobUpload(**vars(grant_upload(ingest.presigner, bucket, sha,
                                           key=staged_key(record.upload_id, sha))))
            for sha in record.staged]


@router.post("/{upload_id}/deploy", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeploymentAccepted, responses={
                 404: {"description": "no such project, or no such upload of it"},
                 409: {"description": "a blob was not uploaded (the field names the file)"},
                 422: {"description": "uploaded bytes do not match their sha256, or the "
                                      "site configuration is malformed"}})
async def deploy(project_id: str, upload_id: str, platform: WriteDep, ingest: IngestDep,
                 body: Annotated[DeployUpload | None, Body()] = None) -> DeploymentAccepted:
    """Deploy an upload once its missing blobs are sent: served as it is (READY at once)
    or, with ``build``, built like a checkout."""
    body = body or DeployUpload()
    await require_project(platform, project_id)
    record = await load_record(ingest, project_id, upload_id)
    try:
        admitted = await in_store(admit_staged, ingest.s3, ingest.settings.artifacts_bucket,
                                  record)
    except UploadRejected as exc:
        raise Invalid(str(exc), field=exc.field) from None
    await check_stored(ingest, record)
    deployment_id = new_id()
    published = None if body.build else await publish(ingest, deployment_id, record, admitted)
    meta = Meta.new()
    async with platform.pool.acquire() as conn, conn.transaction():
        state = await write_side.load_for_update(conn, project_id)
        requested = request_upload_deployment(state, upload_id, deployment_id, body.build,
                                              body.target, body.build_cache, meta)
        outcome = await platform.commands.append_decided(
            conn, state, deploy_upload(state, requested, published))
    platform.consistency.appended(outcome.positions)
    accepted = deployment_response(outcome, platform.settings)
    return accepted if body.build else accepted.model_copy(update={"status": "READY"})


async def load_record(ingest: Ingest, project_id: str, upload_id: str) -> UploadRecord:
    unknown = NotFound(f"upload {upload_id} of project {project_id} not found",
                       field="upload_id")
    if not UPLOAD_ID.fullmatch(upload_id):
        raise unknown
    raw = await in_store(read_object, ingest.s3, ingest.settings.artifacts_bucket,
                         upload_key(upload_id))
    try:
        record = None if raw is None else UploadRecord.model_validate_json(raw)
    except ValidationError:
        record = None
    if record is None or record.project_id != project_id:
        raise unknown
    return record


def read_object(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return body


async def check_stored(ingest: Ingest, record: UploadRecord) -> None:
    sizes = await stored_sizes(ingest, list(distinct(record.files)))
    for path, file in sorted(record.files.items()):
        if sizes[file.sha256] != file.size:
            raise Conflict(f"{path!r} was not uploaded: blob {file.sha256} ({file.size} "
                           "bytes) is not stored; PUT it to its URL, then deploy again",
                           field=f"files.{path}")


async def publish(ingest: Ingest, deployment_id: str, record: UploadRecord, admitted: int
                  ) -> Published:
    try:
        return await in_store(publish_upload, ingest.s3, ingest.settings.artifacts_bucket,
                              deployment_id, record, admitted)
    except SiteConfigError as exc:
        message = str(exc)
        name = next((n for n in ("_redirects", "_headers") if message.startswith(n)),
                    "buildspace.json")
        raise Invalid(message, field=f"files.{name}") from None
