"""Deciding deployments of uploaded files, pure like ``commands.decide``.

A deployment of an upload is requested like any other (``DeploymentRequested``, ref
``upload``, its spec naming the upload) and waits in the build queue like a deployment
of a commit. Served as it is (``prebuilt``), the worker publishes it without a builder;
built, a builder fetches the files instead of cloning.
"""

from __future__ import annotations

from typing import Literal

from commands.projects.decide import ProjectState, require
from schemas.audit import Actor
from schemas.builds import BuildSpec
from schemas.envelope import Meta
from schemas.events import DeploymentRequested
from schemas.uploads import UPLOAD_REF


def request_upload_deployment(state: ProjectState, upload_id: str, deployment_id: str,
                              build: bool, target: Literal["production", "preview"],
                              build_cache: bool, meta: Meta, *, requested_by: Actor
                              ) -> DeploymentRequested:
    require(state, state.project_id)
    spec = BuildSpec(
        project_id=state.project_id, deployment_id=deployment_id, git_url=state.git_url,
        ref=UPLOAD_REF, settings=state.settings, build_cache=build_cache,
        correlation_id=meta.correlation_id, upload_id=upload_id, prebuilt=not build)
    return DeploymentRequested(
        stream_id=state.project_id, project_id=state.project_id, deployment_id=deployment_id,
        number=state.deployments + 1, spec=spec, branch=None, target=target,
        requested_by=requested_by, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)

