"""Models of the HTTP API's responses."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from schemas.builds import BuildPlan, BuildSettings
from schemas.domains import txt_name, txt_value
from schemas.failures import FailureStep

MASK = "••••••••"

Status = Literal["QUEUED", "BUILDING", "READY", "FAILED", "CANCELED"]


class ProjectOut(BaseModel):
    id: str
    name: str
    subdomain: str
    git_url: str
    branch: str
    root_directory: str | None
    install_command: str | None
    build_command: str | None
    output_directory: str | None
    framework: str | None = None
    build_network: bool = False
    node_version: str | None = Field(default=None, description="the Node.js version or range "
                                     "builds use; null: from the repository")
    url: str
    created_at: datetime
    production_deployment_id: str | None = None
    team_id: str | None = Field(default=None, description="the team it belongs to (none: "
                                "made before accounts, the instance owner's team)")
    auto_promotion: bool = Field(default=True, description="new production deployments "
                                 "go live when READY; paused by a rollback, resumed by a "
                                 "promote")
    latest_deployment_id: str | None = Field(default=None, description="the newest "
                                             "deployment, of any target and status")
    latest_status: Status | None = None


class EnvOut(BaseModel):
    project_id: str
    vars: dict[str, str] = Field(description="NAME -> masked value")


class EnvValuesOut(EnvOut):
    """``EnvOut``'s shape, with the real values: for the team's admins only."""

    vars: dict[str, str] = Field(description="NAME -> value, in clear")


class DeploymentOut(BaseModel):
    id: str
    project_id: str
    number: int
    ref: str
    branch: str | None = None
    target: Literal["production", "preview"] = "production"
    status: Status
    url: str
    project_url: str
    commit_sha: str | None = None
    failure_reason: str | None = None
    failure_step: FailureStep | None = Field(
        default=None, description="launch, clone, detect, install, build, output, publish, "
                                  "timeout or internal")
    runner: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    file_count: int | None = None
    total_bytes: int | None = None
    uploaded_blobs: int | None = None
    install_ms: int | None = None
    build_ms: int | None = None
    log_lines: int | None = None
    build: BuildPlan | None = Field(
        default=None, description="how it was built: preset, package manager, Node.js")
    queue_position: int | None = Field(
        default=None, description="1 = next to start, while waiting for a build slot")
    requested_by: str | None = Field(
        default=None, description="the email of the user who requested it (directly or "
        "with one of their tokens); null for deploy hooks, Git webhooks, commands of other "
        "systems, and deployments made before this was recorded")


class DeploymentAccepted(BaseModel):
    id: str
    project_id: str
    number: int
    ref: str
    status: Status = "QUEUED"
    url: str
    project_url: str


class LogLineOut(BaseModel):
    seq: int
    stream: str
    timestamp: datetime
    line: str = Field(description="the raw line, ANSI colours kept")
    plain: str = Field(description="the line without ANSI escape sequences")


class LogPage(BaseModel):
    deployment_id: str
    lines: list[LogLineOut]
    next_after_seq: int
    has_more: bool


class TxtRecord(BaseModel):
    """The DNS record that proves control of a custom domain."""

    type: Literal["TXT"] = "TXT"
    name: str = Field(description="_buildspace.<hostname>")
    value: str = Field(description="buildspace-verify=<token>")


class DomainOut(BaseModel):
    hostname: str = Field(description="lowercase, IDNA (punycode) form")
    project_id: str
    verified: bool
    status: Literal["pending_verification", "verified"]
    verification: TxtRecord
    url: str = Field(description="where the site is served once verified")
    created_at: datetime | None = None
    verified_at: datetime | None = None

    @classmethod
    def of(cls, project_id: str, hostname: str, token: str, verified: bool, url: str,
           **times: datetime | None) -> DomainOut:
        return cls(
            hostname=hostname, project_id=project_id, verified=verified,
            status="verified" if verified else "pending_verification",
            verification=TxtRecord(name=txt_name(hostname), value=txt_value(token)),
            url=url, **times)


class SettingsOut(BaseModel):
    id: str
    branch: str
    settings: BuildSettings


class CancelOut(BaseModel):
    id: str
    status: str = "CANCELED"


class ProductionOut(BaseModel):
    project_id: str
    production_deployment_id: str
    auto_promotion: bool = Field(description="whether new production deployments go live "
                                             "when READY")
