"""Models of the HTTP API's request bodies (its answers are in ``schemas.api``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.commands import BuildSettingsFields, check_env_name, check_env_vars, check_ref


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


class EnvPatchBody(BaseModel):
    """Changes to some build variables; the others are kept. Names and values are
    checked as ``SetProjectEnv`` checks them, and so is the result."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    set: dict[str, str] = Field(default_factory=dict, max_length=200,
                                description="NAME -> value: added, or replacing the value")
    unset: list[str] = Field(default_factory=list, max_length=200,
                             description="names to remove; each must be set")

    @field_validator("set")
    @classmethod
    def _set(cls, value: dict[str, str]) -> dict[str, str]:
        return check_env_vars(value)

    @field_validator("unset")
    @classmethod
    def _unset(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for name in value:
            check_env_name(name)
            if name in info.data.get("set", {}):
                raise ValueError(f"{name!r} is both set and unset")
        return value

    @model_validator(mode="after")
    def _something(self) -> EnvPatchBody:
        if not self.set and not self.unset:
            raise ValueError("nothing to change: give set, unset or both")
        return self


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
