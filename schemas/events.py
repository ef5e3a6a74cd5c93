"""Control-plane events on ``buildspace.events``, keyed by project id.

``type`` strings are never renamed; a changed shape gets a new ``schema_version``
and an upcaster in ``schemas.upcasting``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter

from schemas.builds import BuildSettings, BuildSpec
from schemas.envelope import Envelope


class ProjectCreated(Envelope):
    type: Literal["ProjectCreated"] = "ProjectCreated"
    project_id: str
    name: str
    subdomain: str
    git_url: str
    branch: str
    settings: BuildSettings = BuildSettings()


class DeploymentRequested(Envelope):
    type: Literal["DeploymentRequested"] = "DeploymentRequested"
    project_id: str
    deployment_id: str
    number: int = Field(description="1 for the project's first deployment, then 2, 3, …")
    spec: BuildSpec


class BuildStarted(Envelope):
    type: Literal["BuildStarted"] = "BuildStarted"
    project_id: str
    deployment_id: str
    commit_sha: str
    runner: str


class DeploymentReady(Envelope):
    type: Literal["DeploymentReady"] = "DeploymentReady"
    project_id: str
    deployment_id: str
    commit_sha: str
    file_count: int
    total_bytes: int
    uploaded_blobs: int
    install_ms: int
    build_ms: int
    log_lines: int | None = Field(default=None, description="seq of the build's last log line")


class DeploymentFailed(Envelope):
    type: Literal["DeploymentFailed"] = "DeploymentFailed"
    project_id: str
    deployment_id: str
    reason: str
    commit_sha: str | None = None
    log_lines: int | None = Field(default=None, description="seq of the build's last log line")


class CommandAccepted(Envelope):
    """A command from ``buildspace.commands`` was applied; its events follow."""

    type: Literal["CommandAccepted"] = "CommandAccepted"
    command_id: str
    command_type: str
    event_ids: list[str]


class CommandRejected(Envelope):
    type: Literal["CommandRejected"] = "CommandRejected"
    command_id: str
    command_type: str | None
    status: int
    reason: str
    errors: list[dict[str, Any]] = []


ControlEvent = Annotated[
    ProjectCreated
    | DeploymentRequested
    | BuildStarted
    | DeploymentReady
    | DeploymentFailed
    | CommandAccepted
    | CommandRejected,
    Field(discriminator="type"),
]

control_event_adapter: TypeAdapter[ControlEvent] = TypeAdapter(ControlEvent)

DEPLOYMENT_EVENTS = (DeploymentRequested, BuildStarted, DeploymentReady, DeploymentFailed)


def parse_event(data: bytes | dict[str, Any]) -> ControlEvent:
    """Parse any control-plane event (raises ``pydantic.ValidationError``)."""
    from schemas.upcasting import upcast

    parsed = orjson.loads(data) if isinstance(data, bytes | bytearray | str) else data
    return control_event_adapter.validate_python(upcast(parsed))
