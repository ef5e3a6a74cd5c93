"""The source of a remote build of uploaded files: ``GET /v1/builds/{id}/source``.

An ECS builder holds only its grant, so it cannot read the store: for a build whose
spec names an upload it gets the upload's files with a presigned GET URL for each
blob (``builder.upload_source.ApiSource``), only while the build runs.
"""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Response

from commands.build_ingest import (
    NOT_RUNNING,
    SPEC_QUERY,
    Forbidden,
    GrantDep,
    Ingest,
    IngestDep,
)
from commands.build_ingest import (
    router as ingest_router,
)
from commands.uploads import in_store, load_record
from infra.deps import PlatformDep
from infra.grants import grant_download
from schemas.builds import BuildSpec
from schemas.errors import Conflict, NotFound, Unavailable
from schemas.uploads import BuildSource, SourceFile, UploadRecord

router = APIRouter(prefix="/v1/builds/{deployment_id}", tags=["builds"],
                   responses=ingest_router.responses)
DOWNLOAD_URL_TTL_S = 1800


@router.get("/source", response_model=BuildSource, responses={
    404: {"description": "no build of this deployment, or it does not build an upload"},
    409: {"description": "the build is not running"}})
async def get_source(grant: GrantDep, ingest: IngestDep, platform: PlatformDep,
                     response: Response) -> BuildSource:
    """The uploaded files a build of an upload starts from, each with a presigned GET."""
    response.headers["Cache-Control"] = "no-store"
    try:
        row = await platform.pool.fetchrow(SPEC_QUERY, grant.deployment_id)
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"the database did not answer: {type(exc).__name__}") from None
    if row is None:
        raise NotFound(f"no build of deployment {grant.deployment_id} is known")
    if row["project_id"] != grant.project_id:
        raise Forbidden("the grant does not cover this deployment's project")
    if row["state"] != "running":
        raise Conflict(f"the build of deployment {grant.deployment_id} is not running: "
                       f"{NOT_RUNNING.get(row['state'], row['state'])}", state=row["state"])
    spec = BuildSpec.model_validate_json(row["spec"])
    if spec.upload_id is None:
        raise NotFound(f"deployment {grant.deployment_id} builds a commit, not an upload")
    record = await load_record(ingest, grant.project_id, spec.upload_id)
    return await in_store(listing, ingest, record)


def listing(ingest: Ingest, record: UploadRecord) -> BuildSource:
    bucket = ingest.settings.artifacts_bucket
    urls = {sha: grant_download(ingest.presigner, bucket, sha, DOWNLOAD_URL_TTL_S)
            for sha in {f.sha256 for f in record.files.values()}}
    return BuildSource(upload_id=record.upload_id, files={
        path: SourceFile(sha256=f.sha256, size=f.size, url=urls[f.sha256])
        for path, f in record.files.items()})
