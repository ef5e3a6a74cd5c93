"""The sandboxed part of a build: the project's variables and dependency cache set up
for the sandbox, then the install and build steps under the build's limits, each
ended with its reason in words when it fails."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from builder import sandbox
from builder.buildenv import Variables, check_variables, sandbox_setup
from builder.bwrap import Setup
from builder.cache import CacheError, CacheView, project_cache
from builder.cgroups import Limits
from builder.detect import inside
from builder.emitter import Emitter
from builder.failures import Diagnosis
from builder.modules_cache import ModulesCache, modules_key
from builder.network import NetworkError
from builder.output_cache import OutputCache, output_key
from builder.plan import Plan
from builder.threads import settled
from builder.workspace import Workspace
from infra.settings import Settings
from schemas.builds import BuildSpec


class StepFailed(Exception):
    """A step cannot succeed; the message is what the user sees."""


def cache_root(settings: Settings) -> Path:
    return (settings.cache_dir or settings.data_path / "cache").resolve()


class Steps:
    """Install and build of one checkout, in the sandbox."""

    def __init__(self, spec: BuildSpec, settings: Settings, emitter: Emitter, ws: Workspace,
                 plan: Plan) -> None:
        self.spec, self.settings, self.emit, self.ws, self.plan = (
            spec, settings, emitter, ws, plan)
        self.variables: Variables = check_variables(spec.env)
        self.cache: CacheView | None = None
        self.modules: ModulesCache | None = None
        self.modules_key: str | None = None
        self.restored = False
        self.outputs: OutputCache | None = None
        self.output_key: str | None = None
        self.reused = False
        self.setup = Setup()
        self.deadline = time.monotonic() + settings.build_timeout_seconds
        self.step_ms = {"install": 0, "build": 0}

    async def prepare(self) -> None:
        for line in self.variables.describe():
            await self.emit.system(line)
        disk, wanted = self.ws.disk, self.settings.build_disk_mb
        if self.ws.disk_note:
            await self.emit.system(f"Disk limit unavailable ({self.ws.disk_note}); only the "
                                   f"other limits apply")
        elif disk is not None and disk.limit_mb < wanted:
            await self.emit.system(f"Disk limit lowered from {wanted} to {disk.limit_mb} MiB: "
                                   f"the builder has no more free disk")
        view = await self._open_cache() if self.plan.install else None
        self.setup = sandbox_setup(self.plan, self.variables, view)
        if view is not None and self.ws.disk is not None:
            await self._restore_modules()

    async def _restore_modules(self) -> None:
        """Mount the node_modules of an earlier build if the dependencies are the same."""
        plan, ws = self.plan, self.ws
        assert plan.manager is not None
        self.modules_key = await asyncio.to_thread(
            modules_key, inside(ws.src, plan.root), plan, self.variables.accepted)
        self.modules = ModulesCache(cache_root(self.settings) / self.spec.project_id /
                                    f"{plan.manager.kind}-node_modules")
        if self.modules_key is None or not self.modules.matches(self.modules_key):
            return
        try:
            await settled(self.modules.restore, ws, plan.root)
        except (CacheError, OSError) as exc:
            await self.emit.system(f"Could not restore node_modules: {exc}")
            return
        self.restored = True

    async def _open_cache(self) -> Path | None:
        manager = self.plan.manager
        if manager is None:
            return None
        ws = self.ws
        try:
            path = await asyncio.to_thread(project_cache, cache_root(self.settings),
                                           self.spec.project_id, manager.kind, ws.uid, ws.gid)
            warm = await asyncio.to_thread(lambda: any(os.scandir(path)))
            self.cache = await settled(CacheView.open, ws, path, undo=CacheView.close)
        except (CacheError, OSError) as exc:
            await self.emit.system(f"Dependency cache unavailable: {exc}")
            return None
        await self.emit.system(f"Dependency cache: {manager.kind}, "
                               f"{'restored' if warm else 'empty'}")
        return self.cache.view

    async def save_cache(self) -> None:
        """After a successful install: keep what it downloaded for the next build."""
        if self.cache is None:
            return
        ws = self.ws
        try:
            note = await settled(self.cache.save, ws.uid, ws.gid, self.settings.build_disk_mb)
        except (CacheError, OSError) as exc:
            note = f"Could not save the dependency cache: {exc}"
        if note:
            await self.emit.system(note)

    async def close_cache(self) -> None:
        cache, self.cache = self.cache, None
        if cache is not None:
            await asyncio.to_thread(cache.close)

    def limits(self) -> Limits:
        s = self.settings
        remaining = max(self.deadline - time.monotonic(), 0.0)
        disk_mb = self.ws.disk.limit_mb if self.ws.disk else None
        return Limits(remaining, s.build_memory_mb, s.build_pids, s.build_cpus, disk_mb)

    async def install(self, network: bool = True) -> None:
        if self.restored:
            await self.emit.system(f"Dependencies unchanged since the last build: node_modules "
                                   f"restored from the cache, `{self.plan.install}` skipped")
            return
        await self.step("install", self.plan.install, network, self.plan.install_root)
        await self.save_cache()
        await self.save_modules()

    async def save_modules(self) -> None:
        if self.modules is None or self.modules_key is None:
            return
        try:
            saved = await settled(self.modules.save, self.ws, self.plan.root,
                                  self.modules_key, self.settings.build_disk_mb)
        except OSError as exc:
            await self.emit.system(f"Could not save node_modules: {exc}")
            return
        if saved:
            await self.emit.system("Saved node_modules for the next build")

    async def reuse_output(self, tree: str | None) -> bool:
        """Restore the output of an earlier build with the same inputs (see
        ``builder.output_cache``); True when install and build can be skipped."""
        spec, plan, ws = self.spec, self.plan, self.ws
        if not spec.build_cache or spec.settings.build_network:
            return False
        self.output_key = output_key(tree, plan, self.variables.accepted)
        if self.output_key is None:
            return False
        self.outputs = OutputCache(cache_root(self.settings) / spec.project_id / "output")
        try:
            relative = await settled(self.outputs.restore, self.output_key,
                                     inside(ws.src, plan.root), ws.uid, ws.gid)
        except OSError as exc:
            await self.emit.system(f"Could not restore the build output: {exc}")
            return False
        if relative is None:
            return False
        self.reused = True
        skipped = " and ".join(f"`{c}`" for c in (plan.install, plan.build) if c)
        await self.emit.system(
            f"Build output restored from the cache: an earlier build had the same files, "
            f"settings, Node.js version and variables; {skipped} skipped (deploy with "
            f"build_cache false to build again)")
        return True

    async def keep_output(self, output: Path) -> None:
        """After a successful build and collect: keep the output for identical builds."""
        if self.outputs is None or self.output_key is None or self.reused:
            return
        try:
            await settled(self.outputs.save, self.output_key,
                          inside(self.ws.src, self.plan.root), output,
                          self.settings.build_output_mb)
        except OSError as exc:
            await self.emit.system(f"Could not keep the build output in the cache: {exc}")

    async def build(self) -> None:
        await self.step("build", self.plan.build, self.spec.settings.build_network,
                        self.plan.build_root)

    async def step(self, name: str, command: str | None, network: bool, cwd: str) -> None:
        if not command:
            return
        where = f" in {cwd or '.'}/" if cwd != self.plan.root else ""
        await self.emit.system(f"Running `{command}`{where}" + ("" if network else " (no network)"))
        label = f"{self.spec.deployment_id}-{name}"
        diagnosis = Diagnosis()

        async def on_line(stream: str, text: str) -> None:
            diagnosis.observe(text)
            await self.emit.line(stream, text)
        try:
            outcome = await sandbox.run(self.ws, command, cwd=cwd, network=network,
                                        limits=self.limits(), on_line=on_line,
                                        setup=self.setup, label=label)
        except NetworkError as exc:
            raise StepFailed(f"{name} failed: {exc}") from None
        self.step_ms[name] = outcome.wall_ms
        if outcome.timed_out:
            raise StepFailed(f"{name} timed out after {self.settings.build_timeout_seconds} s")
        if outcome.exceeded:
            raise StepFailed(f"{name} failed: {outcome.reason}")
        if not outcome.ok:
            known = diagnosis.install_reason(self.plan.lockfile, self.plan.package_manager) \
                if name == "install" else diagnosis.build_reason(command, network)
            raise StepFailed(known or f"{name} failed: `{command}` {outcome.reason}")
        await self.emit.system(f"`{command}` finished in {outcome.wall_ms / 1000:.1f} s")
