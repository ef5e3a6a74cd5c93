"""Models of the HTTP API's request bodies (its answers are in ``schemas.api``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.commands import BuildSettingsFields, check_ref


class DeploymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: str | None = Field(default=None, description="branch, tag or commit; default branch")
    build_cache: bool = Field(default=True, description="false: build again even when an "
                              "earlier build had the same commit, settings and variables")

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return None if value is None else check_ref(value)


class SettingsBody(BuildSettingsFields):
    branch: str | None = None


class EnvBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vars: dict[str, str] = Field(description="NAME -> value; replaces all variables")


class PromoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: str = Field(min_length=1, max_length=64)


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: str | None = Field(default=None, min_length=1, max_length=64,
                                      description="an earlier production deployment; "
                                                  "default: the one before the current")


class RedeployBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    build_cache: bool = Field(default=False, description="true: reuse the earlier output "
                                                         "when nothing changed")


class DomainBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hostname: str = Field(min_length=1, max_length=300, description="e.g. www.example.com; "
                          "internationalized names are accepted, no scheme, port or path")


class QueuedForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gitURL: str  # noqa: N815 - the seed client's field name
    slug: str | None = Field(default=None, max_length=63)


class NamedForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=63)
    gitUrl: str  # noqa: N815 - the seed client's field name
