"""HTTP intake for builders that run outside the platform (ECS tasks): they hold no
Kafka or S3 credentials, only a grant for their one deployment (``infra.grants``).

Every route needs ``Authorization: Bearer <grant>`` for the deployment in its path. The
builder first fetches its build spec, build variables decrypted, while the build runs
(the task's environment, which any DescribeTasks caller can read, never holds them);
then it reports only what a build of that deployment reports: its status events, its
log lines and heartbeats, its blobs (uploaded directly to the store with presigned URLs)
and its manifest. A refused request appends and stores nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.fernet import InvalidToken
from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from commands.deps import WriteDep, WriteSide
from infra.async_object_store import AsyncBucket
from infra.grants import Grant, GrantError, grant_upload, presigning_client, verify
from infra.secrets import EnvCipher, env_key, grant_key
from infra.settings import Settings
from schemas.artifacts import Manifest, blob_key, manifest_key
from schemas.build_reports import (
    SHA256,
    Appended,
    BlobQuery,
    BlobUploads,
    BuildEvent,
    ManifestStored,
)
from schemas.builds import BuildSpec
from schemas.envelope import dumps
from schemas.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
    Undecryptable,
)
from schemas.logs import BuildLogAppended, LogMessage
from schemas.uploads import BlobUpload

router = APIRouter(prefix="/v1/builds/{deployment_id}", tags=["builds"], responses={
    401: {"description": "no valid grant for this deployment"},
    403: {"description": "the grant does not cover what was sent"}})
bearer = HTTPBearer(auto_error=False, description="a build grant for the deployment in the path")

MAX_LOG_LINES = 1000
MAX_MANIFEST_FILES = 100_000
HEAD_WORKERS = 8
# The build's spec as queued and the project's build variables (as ciphertext) now.
SPEC_QUERY = ("SELECT q.project_id, q.state, q.spec, e.ciphertext FROM build_queue q "
              "LEFT JOIN build_env e ON e.project_id = q.project_id WHERE q.deployment_id = $1")
T = TypeVar("T")
NOT_RUNNING = {"queued": "it is still queued", "done": "it has finished or was canceled"}





@dataclass(frozen=True)
class Ingest:
    """What the routes need besides the platform: the grant key, the cipher of build
    variables and the store."""

    settings: Settings
    key: bytes
    cipher: EnvCipher
    store: AsyncBucket
    presigner: Any


def get_ingest(request: Request, platform: WriteDep) -> Ingest:
    """Made on first use and kept with the app (it reads the keys, makes the presigning
    client); the store is the process's."""
    ingest: Ingest | None = getattr(request.app.state, "build_ingest", None)
    if ingest is None:
        s = platform.settings
        ingest = Ingest(s, grant_key(s), EnvCipher(env_key(s)), platform.artifacts,
                        presigning_client(s))
        request.app.state.build_ingest = ingest
    return ingest


IngestDep = Annotated[Ingest, Depends(get_ingest)]


def granted(deployment_id: str, ingest: IngestDep,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
            ) -> Grant:
    if credentials is None:
        raise Unauthorized("a build grant is required: Authorization: Bearer <grant>")
    try:
        return verify(ingest.key, credentials.credentials, deployment_id)
    except GrantError as exc:
        raise Unauthorized(str(exc)) from None


GrantDep = Annotated[Grant, Depends(granted)]


def check_scope(grant: Grant, event: Any, stream_id: str) -> None:
    """The event must be about the granted deployment, in the stream it belongs to."""
    if event.deployment_id != grant.deployment_id or event.project_id != grant.project_id:
        raise Forbidden("the grant does not cover this deployment or project")
    if event.stream_id != stream_id:
        raise Forbidden(f"stream_id must be {stream_id}", field="stream_id")


@router.get("/spec", response_model=BuildSpec, responses={
    404: {"description": "no build of this deployment is known"},
    409: {"description": "the build is not running (still queued, or finished)"}})
async def get_spec(grant: GrantDep, ingest: IngestDep, platform: WriteDep,
                   response: Response) -> BuildSpec:
    """The build's spec with the project's build variables decrypted, while it runs."""
    response.headers["Cache-Control"] = "no-store"
    row, spec = await running_build(grant, platform)
    return spec.model_copy(update={"env": decrypt_env(ingest.cipher, row["ciphertext"])})


async def running_build(grant: Grant, platform: WriteSide) -> tuple[asyncpg.Record, BuildSpec]:
    """The granted deployment's build queue row and spec; refused unless it runs."""
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
    return row, BuildSpec.model_validate_json(row["spec"])


def decrypt_env(cipher: EnvCipher, ciphertext: str | None) -> dict[str, str]:
    if not ciphertext:
        return {}
    try:
        return cipher.decrypt(ciphertext)
    except InvalidToken:
        raise Undecryptable("the build variables do not decrypt with this platform's "
                            "BUILDSPACE_ENV_KEY") from None


@router.post("/events", status_code=status.HTTP_202_ACCEPTED, response_model=Appended)
async def append_event(event: Annotated[BuildEvent, Body()], grant: GrantDep,
                       platform: WriteDep) -> Appended:
    """Report the build's status: BuildStarted, BuildPlanned, DeploymentReady or
    DeploymentFailed."""
    check_scope(grant, event, grant.project_id)
    await platform.events.append(platform.settings.topic_events, grant.project_id, event)
    return Appended(event_id=event.event_id)


@router.post("/logs", status_code=status.HTTP_202_ACCEPTED, response_model=Appended)
async def append_logs(message: Annotated[LogMessage, Body()], grant: GrantDep,
                      platform: WriteDep) -> Appended:
    """Append a batch of the build's log lines (BuildLogAppended) or a BuildHeartbeat."""
    check_scope(grant, message, grant.deployment_id)
    if isinstance(message, BuildLogAppended) and len(message.lines) > MAX_LOG_LINES:
        raise Invalid(f"at most {MAX_LOG_LINES} lines per message", field="lines")
    await platform.events.append(platform.settings.topic_logs, grant.deployment_id, message)
    return Appended(event_id=message.event_id)


@router.post("/blobs", response_model=BlobUploads)
async def request_uploads(query: BlobQuery, grant: GrantDep, ingest: IngestDep) -> BlobUploads:
    """Which of these blobs the store lacks, each with a short-lived presigned PUT URL."""
    wanted = list(dict.fromkeys(query.sha256))
    sizes = await stored_sizes(ingest, wanted)
    missing = [sha for sha in wanted if sizes[sha] is None]
    bucket = ingest.settings.artifacts_bucket
    uploads = [BlobUpload(**vars(grant_upload(ingest.presigner, bucket, sha))) for sha in missing]
    return BlobUploads(upload=uploads, present=[sha for sha in wanted if sizes[sha] is not None])


@router.put("/manifest", response_model=ManifestStored)
async def put_manifest(manifest: Manifest, grant: GrantDep, ingest: IngestDep) -> ManifestStored:
    """Store the deployment's manifest, once every blob it names is stored at its size."""
    if manifest.deployment_id != grant.deployment_id:
        raise Forbidden("the manifest is for another deployment", field="deployment_id")
    check_entries(manifest)
    blobs = {(path, sha, size) for path, entry in manifest.files.items()
             for sha, size in entry.blobs()}
    sizes = await stored_sizes(ingest, list({sha for _, sha, _ in blobs}))
    for path, sha, size in sorted(blobs):
        if sizes[sha] != size:
            raise Invalid(f"blob {sha} is not stored (or not {size} bytes)",
                          field=f"files.{path}")
    await store(ingest, manifest_key(grant.deployment_id), dumps(manifest))
    return ManifestStored(deployment_id=grant.deployment_id, files=len(manifest.files))


def check_entries(manifest: Manifest) -> None:
    if len(manifest.files) > MAX_MANIFEST_FILES:
        raise Invalid(f"at most {MAX_MANIFEST_FILES} files", field="files")
    for path, entry in manifest.files.items():
        for sha, size in entry.blobs():
            if not SHA256.fullmatch(sha) or size < 0:
                raise Invalid("not a sha256 and size", field=f"files.{path}")


async def stored_sizes(ingest: Ingest, shas: list[str]) -> dict[str, int | None]:
    """Each blob's stored size, None when the store lacks it (HEAD_WORKERS at a time)."""
    limit = asyncio.Semaphore(HEAD_WORKERS)

    async def size(sha: str) -> int | None:
        async with limit:
            return await ingest.store.size(blob_key(sha))
    sizes = await in_store(asyncio.gather(*map(size, shas)))
    return dict(zip(shas, sizes, strict=True))


async def store(ingest: Ingest, key: str, body: bytes) -> None:
    await in_store(ingest.store.put(key, body))


async def in_store(work: Awaitable[T]) -> T:
    """Await object-store work; its failures are ``Unavailable``."""
    try:
        return await work
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(f"the artifact store did not answer: {type(exc).__name__}") from None


async def presigned(fn: Callable[..., T], *args: Any) -> T:
    """Presign in a thread: it sends no request, but thousands of signatures take time."""
    return await asyncio.to_thread(fn, *args)
