"""One build, start to finish: clone → BuildStarted → detect → install (sandbox, with
network; what it downloaded is saved in the project's dependency cache) → build
(sandbox, no network unless the project asks) → collect → publish → DeploymentReady, or
DeploymentFailed with a reason a user can act on.

Only this trusted code talks to Kafka and the object store; a failed build publishes
no manifest, so it never changes what is served.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from builder.build_failed import BuildFailed, human_size
from builder.checkout import check_out
from builder.collect import OutputFile, OutputRejected, collect
from builder.detect import DetectError, find_output, inside, plan_build
from builder.emitter import Emitter, control_fields
from builder.plan import Plan
from builder.provision import ProvisionError, Toolchain, provision_tools
from builder.publish import Published, publish
from builder.reaper import reap
from builder.site_config import read_site_config, served_files
from builder.site_rules import SiteConfigError
from builder.steps import StepFailed, Steps
from builder.threads import settled
from builder.upload_source import Source
from builder.variants import add_variants
from builder.workspace import Workspace
from infra.object_store import Bucket
from infra.settings import Settings
from schemas.artifacts import SiteConfig
from schemas.builds import BuildPlan, BuildSpec
from schemas.events import BuildPlanned, DeploymentFailed, DeploymentReady
from schemas.failures import FailureStep, failure_step

log = logging.getLogger("buildspace.builder")
CANCELED = "canceled: the build was stopped before it finished"
# Uploads a deployment's output and its manifest (in a thread); raises BuildFailed or a
# boto error.
Publisher = Callable[[str, list[OutputFile], SiteConfig], Published]


class Build:
    """The state of one running build."""

    def __init__(self, spec: BuildSpec, settings: Settings, emitter: Emitter,
                 publisher: Publisher | None = None, *, install_network: bool = True,
                 source: Source | None = None) -> None:
        self.spec, self.settings, self.emit = spec, settings, emitter
        self.source = source
        self.toolchain: Toolchain | None = None  # from the settings unless a test sets it
        self.publisher = publisher or self.publish_to_s3
        self.install_network = install_network
        self.commit_sha: str | None = None
        self.tree: str | None = None
        self.steps: Steps | None = None

    @property
    def step_ms(self) -> dict[str, int]:
        return self.steps.step_ms if self.steps else {"install": 0, "build": 0}

    async def run(self, ws: Workspace) -> None:
        await self.checkout(ws)
        plan = await self.plan(ws)
        self.steps = steps = Steps(self.spec, self.settings, self.emit, ws, plan)
        try:
            await steps.prepare()
            if not await steps.reuse_output(self.tree):
                await steps.install(self.install_network)
                await steps.build()
        except StepFailed as exc:
            raise BuildFailed(str(exc)) from None
        files, output = await self.collect(ws, plan)
        await steps.keep_output(output)
        site = await self.site_config(ws, plan, output, files)
        served = served_files(files, inside(ws.src, plan.root), output)
        files = await asyncio.to_thread(add_variants, served, ws.root / "variants")
        published = await self.publish(files, site)
        await self.emit.publish(DeploymentReady(
            **control_fields(self.spec), project_id=self.spec.project_id,
            deployment_id=self.spec.deployment_id, commit_sha=self.commit_sha or "",
            file_count=published.file_count, total_bytes=published.total_bytes,
            uploaded_blobs=published.uploaded_blobs, install_ms=self.step_ms["install"],
            build_ms=self.step_ms["build"], log_lines=self.emit.seq))

    async def checkout(self, ws: Workspace) -> None:
        self.commit_sha, self.tree = await check_out(self.spec, self.settings, self.emit, ws,
                                                     self.source)

    async def plan(self, ws: Workspace) -> Plan:
        try:
            plan = plan_build(ws.src, self.spec.settings)
        except DetectError as exc:
            raise BuildFailed(str(exc), "detect") from None
        for line in plan.describe():
            await self.emit.system(line)
        plan = await self.provision(plan)
        spec = self.spec
        await self.emit.publish(BuildPlanned(
            **control_fields(spec), project_id=spec.project_id,
            deployment_id=spec.deployment_id, plan=BuildPlan(**plan.summary())))
        await asyncio.to_thread(ws.hand_over)
        return plan

    async def provision(self, plan: Plan) -> Plan:
        """Node.js and the package manager, from the tool cache (installed on first use)."""
        if not plan.needs_node:
            return plan
        try:
            toolchain = self.toolchain
            if toolchain is None:
                toolchain = await asyncio.to_thread(Toolchain.from_settings, self.settings)
            tools = await asyncio.to_thread(provision_tools, toolchain, plan.node_request,
                                            plan.manager_request)
        except ProvisionError as exc:
            raise BuildFailed(str(exc), "install") from None
        except OSError as exc:
            raise BuildFailed(f"the tool cache is unavailable: {exc}", "install") from None
        for tool in tools:
            await self.emit.system(tool.line)
        return replace(plan, tools=tools)

    async def collect(self, ws: Workspace, plan: Plan) -> tuple[list[OutputFile], Path]:
        try:
            output = find_output(ws.src, plan)
            files = await asyncio.to_thread(collect, ws.src, output,
                                            self.settings.build_output_mb)
        except (DetectError, OutputRejected) as exc:
            raise BuildFailed(str(exc), "output") from None
        shown = output.relative_to(ws.src).as_posix()
        if not files:
            raise BuildFailed(f"the output directory {shown}/ is empty")
        size = human_size(sum(f.size for f in files))
        await self.emit.system(f"Collected {len(files)} files ({size}) from {shown}/")
        return files, output

    async def site_config(self, ws: Workspace, plan: Plan, output: Path,
                          files: list[OutputFile]) -> SiteConfig:
        framework = plan.framework.slug if plan.framework else None
        try:
            site = await asyncio.to_thread(read_site_config, inside(ws.src, plan.root), output,
                                           files, framework)
        except SiteConfigError as exc:
            raise BuildFailed(str(exc), "output") from None
        if site.rules or site.headers:
            await self.emit.system(f"Site configuration: {len(site.rules)} redirect and "
                                   f"rewrite rules, {len(site.headers)} header rules")
        if site.spa_fallback:
            await self.emit.system("Single-page app: paths without a file serve index.html")
        return site

    def publish_to_s3(self, deployment_id: str, files: list[OutputFile],
                      site: SiteConfig) -> Published:
        s = self.settings
        return publish(Bucket.artifacts(s), deployment_id, files, site)

    async def publish(self, files: list[OutputFile], site: SiteConfig) -> Published:
        try:
            published = await asyncio.to_thread(self.publisher, self.spec.deployment_id, files,
                                                site)
        except (BotoCoreError, ClientError) as exc:
            raise BuildFailed(f"could not upload the output: {type(exc).__name__}") from None
        await self.emit.system(
            f"Uploaded {published.uploaded_blobs} of {published.file_count} files "
            f"({published.distinct_blobs - published.uploaded_blobs} already stored)")
        return published


async def run_build(spec: BuildSpec, settings: Settings, emitter: Emitter,
                    publisher: Publisher | None = None, *, install_network: bool = True,
                    source: Source | None = None) -> None:
    """Run the build and publish its outcome; never raises for a failed build. The work
    directory is removed before the outcome is reported. ``install_network=False`` runs
    the install offline (tests use it to show that the cache is enough)."""
    build = Build(spec, settings, emitter, publisher, install_network=install_network,
                  source=source)
    reason, step, canceled, ws = None, None, False, None
    try:
        ws = await _workspace(spec, settings)
        await build.run(ws)
    except BuildFailed as exc:
        reason, step = exc.reason, exc.step
    except asyncio.CancelledError:
        reason, canceled = CANCELED, True
    except Exception:
        log.exception("build %s failed inside the builder", spec.deployment_id)
        reason = "internal error in the builder"
    finally:
        if build.steps is not None:
            await build.steps.close_cache()
        if ws is not None:
            await asyncio.to_thread(ws.remove)
    if reason is not None:
        await fail(build, reason, step or failure_step(reason))
    if canceled:
        raise asyncio.CancelledError


async def _workspace(spec: BuildSpec, settings: Settings) -> Workspace:
    """A new work directory on a disk of ``build_disk_mb``; removed again if the build is
    canceled while it is being made."""
    label = re.sub(r"[^A-Za-z0-9_-]", "-", spec.deployment_id)[:40]
    await asyncio.to_thread(reap)  # what builders killed earlier left behind
    return await settled(Workspace.create, settings.sandbox_uid, settings.sandbox_gid,
                         Path(settings.data_path), settings.build_disk_mb, label,
                         undo=Workspace.remove)


async def fail(build: Build, reason: str, step: FailureStep | None = None) -> None:
    spec = build.spec
    await build.emit.system(f"Build failed: {reason}")
    await build.emit.publish(DeploymentFailed(
        **control_fields(spec), project_id=spec.project_id, deployment_id=spec.deployment_id,
        reason=reason, step=step, commit_sha=build.commit_sha, log_lines=build.emit.seq))
