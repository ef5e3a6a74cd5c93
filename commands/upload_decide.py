"""Deciding deployments of uploaded files, pure like ``commands.decide``.

A deployment of an upload is requested like any other (``DeploymentRequested``, ref
``upload``, its spec naming the upload). Served as it is, it needs no builder: the API
has already written its manifest, so ``DeploymentReady`` follows at once; built, it
waits in the build queue like a deployment of a commit.
"""

from __future__ import annotations

from typing import Literal

from builder.publish import Published
from commands.decide import ProjectState, require
from schemas.builds import BuildSpec
from schemas.envelope import Envelope, Meta
from schemas.events import DeploymentReady, DeploymentRequested
from schemas.uploads import UPLOAD_REF


def request_upload_deployment(state: ProjectState, upload_id: str, deployment_id: str,
                              build: bool, target: Literal["production", "preview"],
                              build_cache: bool, meta: Meta) -> DeploymentRequested:
    require(state, state.project_id)
    spec = BuildSpec(
        project_id=state.project_id, deployment_id=deployment_id, git_url=state.git_url,
        ref=UPLOAD_REF, settings=state.settings, build_cache=build_cache,
        correlation_id=meta.correlation_id, upload_id=upload_id, prebuilt=not build)
    return DeploymentRequested(
        stream_id=state.project_id, project_id=state.project_id, deployment_id=deployment_id,
        number=state.deployments + 1, spec=spec, branch=None, target=target,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)


def deploy_upload(state: ProjectState, requested: DeploymentRequested,
                  published: Published | None) -> list[Envelope]:
    """The request, and with ``published`` (served as it is) its READY."""
    if published is None:
        return [requested]
    return [requested, DeploymentReady(
        **requested.caused(stream_id=state.project_id), project_id=state.project_id,
        deployment_id=requested.deployment_id, commit_sha="",
        file_count=published.file_count, total_bytes=published.total_bytes,
        uploaded_blobs=published.uploaded_blobs, install_ms=0, build_ms=0)]
