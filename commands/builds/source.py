"""The source of a remote build of uploaded files: ``GET /v1/builds/{id}/source``.

An ECS builder holds only its grant, so it cannot read the store: for a build whose
spec names an upload it gets the upload's files with a presigned GET URL for each
blob (``builder.upload_source.ApiSource``), only while the build runs.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from commands.builds.http import GrantDep, Ingest, IngestDep, presigned, running_build
from commands.builds.http import router as ingest_router
from commands.deps import WriteDep
from commands.uploads.http import load_record
from infra.grants import grant_download
from schemas.errors import NotFound
from schemas.uploads import BuildSource, SourceFile, UploadRecord

router = APIRouter(prefix="/v1/builds/{deployment_id}", tags=["builds"],
                   responses=ingest_router.responses)
DOWNLOAD_URL_TTL_S = 1800


@router.get("/source", response_model=BuildSource, responses={
    404: {"description": "no build of this deployment, or it does not build an upload"},
    409: {"description": "the build is not running"}})
async def get_source(grant: GrantDep, ingest: IngestDep, platform: WriteDep,
                     response: Response) -> BuildSource:
    """The uploaded files a build of an upload starts from, each with a presigned GET."""
    response.headers["Cache-Control"] = "no-store"
    _, spec = await running_build(grant, platform)
    if spec.upload_id is None:
        raise NotFound(f"deployment {grant.deployment_id} builds a commit, not an upload")
    record = await load_record(ingest, grant.project_id, spec.upload_id)
    return await presigned(listing, ingest, record)


def listing(ingest: Ingest, record: UploadRecord) -> BuildSource:
    bucket = ingest.settings.artifacts_bucket
    urls = {sha: grant_download(ingest.presigner, bucket, sha, DOWNLOAD_URL_TTL_S)
            for sha in {f.sha256 for f in record.files.values()}}
    return BuildSource(upload_id=record.upload_id, files={
        path: SourceFile(sha256=f.sha256, size=f.size, url=urls[f.sha256])
        for path, f in record.files.items()})
