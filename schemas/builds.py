"""What a build is asked to do: the build spec handed to a runner."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BuildSettings(BaseModel):
    """Per-project build settings; ``None`` means detect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_directory: str | None = None
    install_command: str | None = None
    build_command: str | None = None
    output_directory: str | None = None


class BuildSpec(BaseModel):
    """Everything a builder needs to build one deployment, and nothing secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: str
    deployment_id: str
    git_url: str
    ref: str
    settings: BuildSettings = BuildSettings()
    correlation_id: str | None = None
