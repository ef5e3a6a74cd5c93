"""Run one build: ``python -m builder.run``.

The build spec (``schemas.builds.BuildSpec`` as JSON) comes from the environment
variable ``BUILDSPACE_BUILD_SPEC`` or, when that is unset, from stdin; connections and
limits come from the ``BUILDSPACE_*`` settings. With ``BUILDSPACE_BUILD_GRANT`` and
``BUILDSPACE_API_URL`` set (an ECS task), the build reports through the API with that
grant instead, and needs no Kafka or S3 credentials; without ``BUILDSPACE_BUILD_SPEC`` it
fetches the spec of ``BUILDSPACE_DEPLOYMENT_ID`` (build variables included) from the API
with the grant, so the variables never sit in the task's environment. The outcome is
published as events, so the exit code is 0 for a failed build too; it is non-zero only
when there is no valid spec or the outcome could not be published. SIGTERM stops the
build (it is reported failed).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from pydantic import ValidationError

from builder.disk import private_mounts
from builder.emitter import KafkaEmitter
from builder.pipeline import run_build
from builder.remote import HttpEmitter, RemotePublisher, RemoteTarget, ReportRejected, fetch_spec
from builder.upload_source import remote_source
from infra.settings import Settings
from schemas.builds import BuildSpec

log = logging.getLogger("buildspace.builder")
STOP_GRACE_S = 10.0


class NoSpec(Exception):
    """The builder was given no spec and could not fetch one."""


def read_spec(remote: RemoteTarget | None = None) -> BuildSpec:
    """The spec from the environment, else (a remote build) from the API, else stdin."""
    raw = os.environ.get("BUILDSPACE_BUILD_SPEC")
    if not raw and remote is not None:
        return fetch_remote_spec(remote)
    return BuildSpec.model_validate_json(raw or sys.stdin.read())


def fetch_remote_spec(remote: RemoteTarget) -> BuildSpec:
    deployment_id = os.environ.get("BUILDSPACE_DEPLOYMENT_ID", "")
    if not deployment_id:
        raise NoSpec("BUILDSPACE_DEPLOYMENT_ID is required to fetch the build spec")
    try:
        return fetch_spec(remote, deployment_id)
    except ReportRejected as exc:
        raise NoSpec(f"could not fetch the build spec: {exc}") from None


def _on_stop_signal(task: asyncio.Task[None]) -> None:
    """Cancel the build (the sandbox is killed, the failure reported), but never wait
    for more than ``STOP_GRACE_S``: an unreachable broker must not keep us alive."""
    task.cancel()
    asyncio.get_running_loop().call_later(STOP_GRACE_S, os._exit, 1)


async def build(spec: BuildSpec, settings: Settings, remote: RemoteTarget | None = None
                ) -> None:
    """Run the build, with SIGTERM and SIGINT cancelling it (cleanly, with an event);
    with ``remote``, reporting through the API."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_stop_signal, task)
    emitter = HttpEmitter(settings, spec, remote) if remote else KafkaEmitter(settings, spec)
    async with emitter:
        try:
            await run_build(spec, settings, emitter, RemotePublisher(remote) if remote else None,
                            source=remote_source(remote, spec.deployment_id) if remote else None)
        except asyncio.CancelledError:
            log.info("build %s stopped", spec.deployment_id)


def remote_target() -> RemoteTarget | None:
    """The API and grant to report to, if given; the grant leaves the environment."""
    grant = os.environ.pop("BUILDSPACE_BUILD_GRANT", "")
    api_url = os.environ.get("BUILDSPACE_API_URL", "")
    return RemoteTarget(api_url, grant) if grant and api_url else None


def runner_settings() -> Settings:
    """Settings from the environment; inside an ECS task the runner is "ecs"."""
    settings = Settings()
    if os.environ.get("ECS_CONTAINER_METADATA_URI_V4") or os.environ.get(
            "ECS_CONTAINER_METADATA_URI"):
        settings = settings.model_copy(update={"runner": "ecs"})
    return settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="builder: %(levelname)s %(message)s")
    private_mounts()  # before any thread starts: the build's mounts die with this process
    remote = remote_target()
    try:
        spec = read_spec(remote)
    except ValidationError as exc:
        print(f"builder: invalid build spec: {exc}", file=sys.stderr)
        return 2
    except NoSpec as exc:
        print(f"builder: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(build(spec, runner_settings(), remote))
    except Exception:
        log.exception("could not report the outcome of build %s", spec.deployment_id)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
