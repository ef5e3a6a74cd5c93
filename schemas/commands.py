"""Commands (imperative), as accepted over HTTP and on ``buildspace.commands``.

Validation lives here so both intakes reject the same input with the same errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, field_validator

from schemas.builds import FRAMEWORKS, BuildSettings
from schemas.domains import check_hostname
from schemas.envelope import new_id
from schemas.git_urls import check_git_url_shape
from schemas.node_ranges import RangeError, parse_range

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
# Reserved for per-deployment hostnames: <12 hex>-<project>.
DEPLOYMENT_HOST_RE = re.compile(r"^[0-9a-f]{12}-")

Command_str = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
NODE_VERSION_MAX = 64


def subdomain_for(name: str) -> str:
    """A DNS-safe label derived from a project name (``My Site`` -> ``my-site``)."""
    label = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return label[:63].rstrip("-")


def check_ref(value: str) -> str:
    if len(value) > 255 or not REF_RE.match(value) or ".." in value or value.endswith(
        (".lock", "/", ".")
    ) or "//" in value or "@{" in value:
        raise ValueError("must be a valid git branch, tag or commit name")
    return value


def check_node_version(value: str) -> str:
    """A Node.js version the builder can resolve: a major (``22``), ``lts``, or a range
    (``20.x``, ``>=18 <21``), read by the builder's own grammar."""
    try:
        parse_range(value)
    except RangeError:
        raise ValueError("must be a Node.js version, lts, or a semver range such as 22, "
                         "20.x or >=18 <21") from None
    return value


def check_relative_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or "\x00" in value or any(p == ".." for p in parts):
        raise ValueError("must be a relative path inside the repository")
    return "/".join(p for p in parts if p not in ("", ".")) or "."


class CommandModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class BuildSettingsFields(CommandModel):
    """Build settings a project may override (``None`` means detect)."""

    root_directory: str | None = Field(default=None, max_length=255)
    install_command: Command_str | None = None
    build_command: Command_str | None = None
    output_directory: str | None = Field(default=None, max_length=255)
    framework: Literal[FRAMEWORKS] | None = None  # type: ignore[valid-type]
    build_network: bool = False
    node_version: str | None = Field(
        default=None, min_length=1, max_length=NODE_VERSION_MAX,
        description="e.g. 22, lts, 20.x or >=18 <21; overrides .nvmrc, .node-version and "
                    "engines.node (null reads them)")

    @field_validator("root_directory", "output_directory")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return None if value is None else check_relative_path(value)

    @field_validator("install_command", "build_command")
    @classmethod
    def _commands(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL")
        return value

    @field_validator("node_version")
    @classmethod
    def _node_version(cls, value: str | None) -> str | None:
        return None if value is None else check_node_version(value)

    def build_settings(self) -> BuildSettings:
        return BuildSettings(**{k: getattr(self, k) for k in BuildSettings.model_fields})


class CreateProject(BuildSettingsFields):
    type: Literal["CreateProject"] = "CreateProject"
    schema_version: int = 2  # v2: ``node_version``
    name: str = Field(min_length=1, max_length=63)
    git_url: str | None = Field(default=None, min_length=1, max_length=2048,
                                description="none: a project deployed from uploaded files "
                                            "(``buildspace deploy``)")
    branch: str = "main"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value) or not subdomain_for(value):
            raise ValueError("must start with a letter or digit and use only letters, digits, "
                             "spaces, '.', '_' and '-'")
        if DEPLOYMENT_HOST_RE.match(subdomain_for(value)):
            raise ValueError("names starting with 12 hex digits and '-' are reserved")
        return value

    @field_validator("git_url")
    @classmethod
    def _git_url(cls, value: str | None) -> str | None:
        return None if value is None else check_git_url_shape(value)

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        return check_ref(value)


class RequestDeployment(CommandModel):
    type: Literal["RequestDeployment"] = "RequestDeployment"
    project_id: str = Field(min_length=1, max_length=64)
    ref: str | None = Field(default=None, description="branch, tag or commit; default: the "
                                                        "project's branch")
    branch: str | None = Field(default=None, description="the branch ``ref`` belongs to "
                               "(e.g. the pushed branch when ``ref`` is its commit)")
    target: Literal["production", "preview"] | None = Field(
        default=None, description="default: production for the project's branch, else "
                                  "preview")
    build_cache: bool = True

    @field_validator("ref", "branch")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


class UpdateProject(BuildSettingsFields):
    """Change build settings; only the fields given change (``null`` restores detection)."""

    type: Literal["UpdateProject"] = "UpdateProject"
    schema_version: int = 2  # v2: ``node_version``
    project_id: str = Field(min_length=1, max_length=64)
    branch: str | None = None

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED_ENV = {"PATH", "HOME", "CI", "NODE_EXTRA_CA_CERTS"}


class SetProjectEnv(CommandModel):
    """Replace the project's build variables (at most 200, 64 KiB in all)."""

    type: Literal["SetProjectEnv"] = "SetProjectEnv"
    project_id: str = Field(min_length=1, max_length=64)
    vars: dict[str, str] = Field(max_length=200)

    @field_validator("vars")
    @classmethod
    def _vars(cls, value: dict[str, str]) -> dict[str, str]:
        return check_env_vars(value)


def check_env_name(name: str) -> str:
    if not ENV_NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a valid variable name")
    if name in RESERVED_ENV or name.startswith(("npm_config_", "BUILDSPACE_")):
        raise ValueError(f"{name!r} is reserved by the platform")
    return name


def check_env_vars(value: dict[str, str]) -> dict[str, str]:
    """Build variables: valid names that are not the platform's, no NUL, 64 KiB in all.
    Messages name the variable, never its value."""
    for name, val in value.items():
        check_env_name(name)
        if "\x00" in val:
            raise ValueError(f"{name!r} must not contain NUL")
    if sum(len(k) + len(v) for k, v in value.items()) > 65536:
        raise ValueError("variables exceed 64 KiB in all")
    return value


class CancelDeployment(CommandModel):
    type: Literal["CancelDeployment"] = "CancelDeployment"
    deployment_id: str = Field(min_length=1, max_length=64)


class PromoteDeployment(CommandModel):
    type: Literal["PromoteDeployment"] = "PromoteDeployment"
    project_id: str = Field(min_length=1, max_length=64)
    deployment_id: str = Field(min_length=1, max_length=64)


class RollbackProduction(CommandModel):
    type: Literal["RollbackProduction"] = "RollbackProduction"
    project_id: str = Field(min_length=1, max_length=64)
    deployment_id: str | None = Field(default=None, min_length=1, max_length=64,
                                      description="an earlier production deployment; "
                                                  "default: the one before the current")


class DomainCommand(CommandModel):
    project_id: str = Field(min_length=1, max_length=64)
    hostname: str = Field(min_length=1, max_length=300,
                          description="e.g. www.example.com (IDNA accepted, no port)")

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        return check_hostname(value)


class AddDomain(DomainCommand):
    """Attach a custom hostname; it is served once verified by a DNS TXT record."""

    type: Literal["AddDomain"] = "AddDomain"


class VerifyDomain(DomainCommand):
    """Look up the domain's TXT record; a match verifies it."""

    type: Literal["VerifyDomain"] = "VerifyDomain"


class RemoveDomain(DomainCommand):
    type: Literal["RemoveDomain"] = "RemoveDomain"


Command = Annotated[
    CreateProject | RequestDeployment | UpdateProject | SetProjectEnv | CancelDeployment
    | AddDomain | VerifyDomain | RemoveDomain,
    Field(discriminator="type"),
]
command_adapter: TypeAdapter[Command] = TypeAdapter(Command)


class CommandMessage(BaseModel):
    """A message on ``buildspace.commands``: ``{"command_id", "command": {...}}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 3  # v2: ``actor``; v3: CreateProject and UpdateProject v2
    command_id: str = Field(default_factory=new_id, min_length=1, max_length=128)
    correlation_id: str | None = None
    actor: str | None = Field(default=None, min_length=1, max_length=200,
                              description="who sent it, in the sending system's words: "
                                          "the actor of the events it causes")
    command: Command
