"""What a build is asked to do: the build spec handed to a runner."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FRAMEWORKS = ("vite", "create-react-app", "nextjs", "astro", "sveltekit", "nuxt", "gatsby",
              "docusaurus", "vitepress", "eleventy", "angular", "react-router", "hugo",
              "mkdocs", "static")


class BuildSettings(BaseModel):
    """Per-project build settings; ``None`` means detect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_directory: str | None = None
    install_command: str | None = None
    build_command: str | None = None
    output_directory: str | None = None
    framework: str | None = Field(default=None, description="preset name; None detects")
    build_network: bool = Field(default=False, description="network while building (install "
                                                           "always has it)")
    node_version: str | None = Field(
        default=None, description="the Node.js version or range to build with (e.g. 22, lts, "
                                  "20.x), over the repository's; None reads .nvmrc, "
                                  ".node-version or engines.node")


class BuildSpec(BaseModel):
    """Everything a builder needs to build one deployment, and nothing secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_id: str
    deployment_id: str
    git_url: str
    ref: str
    settings: BuildSettings = BuildSettings()
    correlation_id: str | None = None
    build_cache: bool = Field(
        default=True, description="reuse the output of an earlier build of the project with "
                                  "identical inputs (builds without network only)")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="the project's build variables in plaintext: filled in by the launcher "
                    "when it hands the spec to a runner, never present in an event")
    upload_id: str | None = Field(
        default=None, description="build the files of this upload (``schemas.uploads``) "
                                  "instead of cloning ``git_url``")
    prebuilt: bool = Field(
        default=False, description="the uploaded files are the site as they are: no build "
                                   "runs, the deployment is READY when requested")


class BuildPlan(BaseModel):
    """How a deployment is built, as its JSON shows it: the framework preset, the
    package manager and Node.js versions, and where in the repository."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str | None = Field(default=None, max_length=40, description="preset slug")
    framework_name: str | None = Field(default=None, max_length=100)
    spa_fallback: bool | None = None
    clean_urls: bool | None = None
    output_directory: str | None = Field(default=None, max_length=255)
    package_manager: str | None = Field(default=None, max_length=60,
                                        description="e.g. pnpm@9.15.9")
    node_version: str | None = Field(default=None, max_length=30)
    root_directory: str | None = Field(default=None, max_length=255)
    workspace_root: str | None = Field(default=None, max_length=255)
