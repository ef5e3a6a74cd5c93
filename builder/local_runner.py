"""Start builds on this machine: one ``python -m builder.run`` process per deployment.

The child gets the spec on stdin and an environment of only the settings a build
needs (Kafka, the object store, topics, limits); it drops untrusted code into the
sandbox itself. A child dies with the process that launched it, and ``close`` stops
every running build (each reports itself failed), so no build outlives the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.errors import RunnerError

log = logging.getLogger("buildspace.runner")
PROJECT_DIR = Path(__file__).resolve().parents[1]
FORWARDED_SETTINGS = (
    "kafka_bootstrap", "s3_endpoint", "s3_access_key", "s3_secret_key", "s3_region",
    "artifacts_bucket", "topic_events", "topic_logs", "git_allowed_protocols",
    "build_timeout_seconds", "build_memory_mb", "build_pids", "build_cpus",
    "build_disk_mb", "build_output_mb", "heartbeat_seconds",
    "sandbox_uid", "sandbox_gid", "data_dir", "cache_dir", "runner",
    "kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username",
    "kafka_sasl_password", "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile",
)
INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR")
STOP_GRACE_S = 15.0
_PR_SET_PDEATHSIG = 1


def _env_value(value: Any) -> str:
    if isinstance(value, Path):  # the builder runs in another directory
        return str(value.resolve())
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def builder_environment(settings: Settings) -> dict[str, str]:
    """Only what the builder needs: nothing else of the platform's environment."""
    env = {k: os.environ[k] for k in INHERITED if k in os.environ}
    for field in FORWARDED_SETTINGS:
        value = getattr(settings, field)
        if value is not None:
            env[f"BUILDSPACE_{field.upper()}"] = _env_value(value)
    env["BUILDSPACE_RUNNER"] = "local"
    return env


def _stop_with_parent() -> None:
    """In the child: SIGTERM when the launching thread dies (the build then stops)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalRunner:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._builds: dict[str, asyncio.subprocess.Process] = {}
        self._reapers: set[asyncio.Task[None]] = set()

    def running(self) -> list[str]:
        """Deployment ids of the builds still running."""
        return [d for d, proc in self._builds.items() if proc.returncode is None]

    async def launch(self, spec: BuildSpec) -> str:
        """Start the build (once per deployment: a replayed launch returns the same ref)."""
        if not self.settings.kafka_bootstrap:
            raise RunnerError("the local runner needs BUILDSPACE_KAFKA_BOOTSTRAP")
        existing = self._builds.get(spec.deployment_id)
        if existing is not None and existing.returncode is None:
            return f"pid:{existing.pid}"
        try:
            proc = await self._spawn(spec)
        except OSError as exc:
            raise RunnerError(f"could not start the builder: {exc.strerror}") from None
        self._builds[spec.deployment_id] = proc
        reaper = asyncio.create_task(self._reap(spec.deployment_id, proc))
        self._reapers.add(reaper)
        reaper.add_done_callback(self._reapers.discard)
        return f"pid:{proc.pid}"

    async def _spawn(self, spec: BuildSpec) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "builder.run", stdin=asyncio.subprocess.PIPE,
            env=builder_environment(self.settings), cwd=PROJECT_DIR,
            preexec_fn=_stop_with_parent)
        assert proc.stdin is not None
        proc.stdin.write(spec.model_dump_json().encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        proc.stdin.close()
        return proc

    async def _reap(self, deployment_id: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if self._builds.get(deployment_id) is proc:
            del self._builds[deployment_id]
        log.info("build %s ended (builder exit code %s)", deployment_id, code)

    async def cancel(self, deployment_id: str) -> None:
        """Stop one build; it reports itself failed (canceled)."""
        proc = self._builds.get(deployment_id)
        if proc is not None:
            await _stop(proc)

    async def close(self) -> None:
        """Stop every running build and reap it."""
        await asyncio.gather(*(_stop(p) for p in list(self._builds.values())))
        if self._reapers:
            await asyncio.gather(*self._reapers)


async def _stop(proc: asyncio.subprocess.Process, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM (the builder cleans up and reports), SIGKILL after ``grace`` seconds."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
