"""Control-plane events on ``buildspace.events``, keyed by project id.

``type`` strings are never renamed; a changed shape gets a new ``schema_version``
and an upcaster in ``schemas.upcasting``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import Field, TypeAdapter, field_validator

from schemas.accounts import (
    PasswordChanged,
    TokenCreated,
    TokenRevoked,
    TotpDisabled,
    TotpEnabled,
    UserCreated,
)
from schemas.audit import Actor
from schemas.builds import BuildPlan, BuildSettings, BuildSpec
from schemas.envelope import Envelope
from schemas.failures import FailureStep
from schemas.lifecycle import ProjectDeleted
from schemas.outgoing import WebhookAdded, WebhookRemoved
from schemas.teams import (
    InvitationCreated,
    MemberAdded,
    MemberRemoved,
    MemberRoleChanged,
    TeamCreated,
    TeamDeleted,
    TeamSettingsChanged,
)
from schemas.upcasting import upcast
from schemas.webhooks import DeployHookCreated, DeployHookRevoked, WebhookSecretSet


class ProjectCreated(Envelope):
    """v2 names the team the project belongs to; v1 projects (made before accounts)
    have none and belong to the instance owner's personal team. v3 settings may name a
    Node.js version (``node_version``); before, builds read it from the repository."""

    type: Literal["ProjectCreated"] = "ProjectCreated"
    schema_version: int = 3
    project_id: str
    name: str
    subdomain: str
    git_url: str
    branch: str
    settings: BuildSettings = BuildSettings()
    team_id: str | None = None


class ProjectSettingsChanged(Envelope):
    """New build settings (and production branch) for deployments requested from now on.
    v2 settings may name a Node.js version (``node_version``)."""

    type: Literal["ProjectSettingsChanged"] = "ProjectSettingsChanged"
    schema_version: int = 2
    project_id: str
    branch: str
    settings: BuildSettings


class ProjectEnvSet(Envelope):
    """The project's build variables, replaced as a whole. Values travel only as
    ciphertext (Fernet, key from settings); names are not secret."""

    type: Literal["ProjectEnvSet"] = "ProjectEnvSet"
    project_id: str
    names: list[str]
    ciphertext: str


class DeploymentRequested(Envelope):
    """v2: the spec's settings may name a Node.js version (``node_version``). v3: who
    asked for it travels in the event (``requested_by``), not only in the record's
    ``actor`` header, so a consumer of the topic sees it."""

    type: Literal["DeploymentRequested"] = "DeploymentRequested"
    schema_version: int = 3
    project_id: str
    deployment_id: str
    number: int = Field(description="1 for the project's first deployment, then 2, 3, …")
    spec: BuildSpec
    branch: str | None = Field(default=None, description="the branch deployed, when known")
    target: Literal["production", "preview"] = Field(
        default="production", description="production: the project's branch (its READY "
        "becomes the production deployment); preview: any other branch or a fixed commit")
    requested_by: Actor | None = Field(
        default=None, description="who asked for it; None in events recorded before v3, "
        "whose record's actor header names who")

    @field_validator("spec")
    @classmethod
    def _no_plaintext_env(cls, spec: BuildSpec) -> BuildSpec:
        if spec.env:
            raise ValueError("build variables never travel in plaintext in an event")
        return spec


class BuildStarted(Envelope):
    type: Literal["BuildStarted"] = "BuildStarted"
    project_id: str
    deployment_id: str
    commit_sha: str
    runner: str


class BuildPlanned(Envelope):
    """The builder decided how to build: emitted after detection and provisioning."""

    type: Literal["BuildPlanned"] = "BuildPlanned"
    project_id: str
    deployment_id: str
    plan: BuildPlan


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
    """v2 names the step that failed (``step``); v1 events get it from their reason
    (``schemas.upcasting.upcast_DeploymentFailed_v1_v2``)."""

    type: Literal["DeploymentFailed"] = "DeploymentFailed"
    schema_version: int = 2
    project_id: str
    deployment_id: str
    reason: str
    step: FailureStep | None = Field(default=None, description="the step that failed")
    commit_sha: str | None = None
    log_lines: int | None = Field(default=None, description="seq of the build's last log line")


class DeploymentCanceled(Envelope):
    """Canceled by a user, or superseded by a newer request for the same branch while
    still queued. The first final event of a deployment (ready, failed, canceled) wins."""

    type: Literal["DeploymentCanceled"] = "DeploymentCanceled"
    project_id: str
    deployment_id: str
    reason: str


class DomainAdded(Envelope):
    """A custom hostname was attached to the project, pending proof of control: a TXT
    record ``_buildspace.<hostname>`` holding ``buildspace-verify=<token>``.
    ``domain_id`` names this attachment; a domain added again gets a new one."""

    type: Literal["DomainAdded"] = "DomainAdded"
    project_id: str
    domain_id: str
    hostname: str
    token: str


VerificationMethod = Literal["dns", "setting"]


class DomainVerified(Envelope):
    """The domain is proven: from now on it serves the project's production deployment."""

    type: Literal["DomainVerified"] = "DomainVerified"
    project_id: str
    domain_id: str
    hostname: str
    method: VerificationMethod = Field(
        description="dns: the TXT record matched; setting: BUILDSPACE_VERIFIED_DOMAINS")


class DomainRemoved(Envelope):
    """The domain was detached; it is no longer served and another project may claim it."""

    type: Literal["DomainRemoved"] = "DomainRemoved"
    project_id: str
    domain_id: str
    hostname: str


class DeploymentPromoted(Envelope):
    """A READY deployment made the production deployment by hand (no rebuild); automatic
    promotion of new production deployments is on again."""

    type: Literal["DeploymentPromoted"] = "DeploymentPromoted"
    project_id: str
    deployment_id: str


class ProductionRolledBack(Envelope):
    """Production went back to an earlier production deployment (no rebuild); automatic
    promotion pauses until a deployment is promoted by hand."""

    type: Literal["ProductionRolledBack"] = "ProductionRolledBack"
    project_id: str
    deployment_id: str = Field(description="the deployment now in production")
    from_deployment_id: str | None = Field(default=None, description="the one it replaced")


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
    | ProjectSettingsChanged
    | ProjectEnvSet
    | DeploymentRequested
    | BuildStarted
    | BuildPlanned
    | DeploymentReady
    | DeploymentFailed
    | DeploymentCanceled
    | DomainAdded
    | DomainVerified
    | DomainRemoved
    | DeploymentPromoted
    | ProductionRolledBack
    | WebhookSecretSet
    | DeployHookCreated
    | DeployHookRevoked
    | ProjectDeleted
    | WebhookAdded
    | WebhookRemoved
    | UserCreated
    | TeamCreated
    | MemberAdded
    | TeamSettingsChanged
    | TeamDeleted
    | MemberRoleChanged
    | MemberRemoved
    | InvitationCreated
    | TokenCreated
    | TokenRevoked
    | PasswordChanged
    | TotpEnabled
    | TotpDisabled
    | CommandAccepted
    | CommandRejected,
    Field(discriminator="type"),
]

control_event_adapter: TypeAdapter[ControlEvent] = TypeAdapter(ControlEvent)

DEPLOYMENT_EVENTS = (DeploymentRequested, BuildStarted, BuildPlanned, DeploymentReady,
                     DeploymentFailed, DeploymentCanceled)
FINAL_EVENTS = (DeploymentReady, DeploymentFailed, DeploymentCanceled)


def parse_event(data: bytes | dict[str, Any]) -> ControlEvent:
    """Parse any control-plane event (raises ``pydantic.ValidationError``)."""
    parsed = orjson.loads(data) if isinstance(data, bytes | bytearray | str) else data
    return control_event_adapter.validate_python(upcast(parsed))
