"""The build's sources, before anything runs: a hardened clone of the ref, or the files
of an upload (``builder.upload_source``); then ``BuildStarted``."""

from __future__ import annotations

import asyncio

from builder.build_failed import BuildFailed, human_size
from builder.clone import CloneError, clone
from builder.emitter import Emitter, control_fields
from builder.upload_source import S3Source, Source, SourceError, materialize
from builder.workspace import Workspace
from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.events import BuildStarted

CLONE_TIMEOUT_S = 300.0


async def check_out(spec: BuildSpec, settings: Settings, emit: Emitter, ws: Workspace,
                    source: Source | None) -> tuple[str, str | None]:
    """(commit sha, tree id) of what is in ``ws.src`` now; "" for an upload."""
    tree: str | None
    if spec.upload_id:
        tree = await _upload(spec, settings, emit, ws, source)
        sha = ""
    else:
        sha, tree = await _clone(spec, settings, emit, ws)
    await emit.publish(BuildStarted(
        **control_fields(spec), project_id=spec.project_id, deployment_id=spec.deployment_id,
        commit_sha=sha, runner=settings.runner))
    return sha, tree


async def _clone(spec: BuildSpec, settings: Settings, emit: Emitter, ws: Workspace
                 ) -> tuple[str, str | None]:
    await emit.system(f"Cloning {spec.git_url} at {spec.ref}")
    try:
        cloned = await clone(spec.git_url, spec.ref, ws.src, timeout=CLONE_TIMEOUT_S,
                             protocols=settings.git_allowed_protocols)
    except CloneError as exc:
        raise BuildFailed(f"clone failed: {exc}") from None
    await emit.system(f"Checked out commit {cloned.sha}")
    return cloned.sha, cloned.tree


async def _upload(spec: BuildSpec, settings: Settings, emit: Emitter, ws: Workspace,
                  source: Source | None) -> str:
    await emit.system(f"Fetching the files of upload {spec.upload_id}")
    try:
        fetched = await asyncio.to_thread(materialize, source or S3Source(settings), spec,
                                          ws.src)
    except SourceError as exc:
        raise BuildFailed(f"could not fetch the uploaded files: {exc}") from None
    await emit.system(f"Fetched {fetched.files} files ({human_size(fetched.total_bytes)})")
    return fetched.tree
