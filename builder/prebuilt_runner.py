"""The runner wrapper that publishes deployments of uploads served as they are.

Such a deployment (``BuildSpec.prebuilt``) needs no build. The API admitted its files
into the store and appended only ``DeploymentRequested``; the build queue hands it to
the worker's runner like any other deployment, and this wrapper answers that launch
itself: it publishes the upload (``builder.prebuilt.publish_upload``) in the worker's
loop, on its ``AsyncBucket``, then appends ``BuildStarted`` and ``DeploymentReady``, or
``DeploymentFailed`` naming the file whose site configuration is malformed. Every other
spec goes to the real runner.

Should the worker die while publishing, the watchdog fails the deployment as for any
build that stopped reporting; a cancel stops a publication that has not finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from builder.prebuilt import publish_upload, read_upload
from builder.site_rules import SiteConfigError
from builder.upload_source import SourceError
from infra.async_object_store import AsyncBucket
from schemas.builds import BuildSpec
from schemas.envelope import Envelope
from schemas.events import BuildStarted, DeploymentFailed, DeploymentReady
from schemas.failures import FailureStep

log = logging.getLogger("buildspace.prebuilt")

PREBUILT = "prebuilt"
Append = Callable[[Envelope], Awaitable[object]]


class PublishPrebuilt:
    def __init__(self, runner: Any, store: AsyncBucket, append: Append) -> None:
        self.runner = runner
        self.name = runner.name
        self.store = store
        self.append = append
        self._publishing: dict[str, asyncio.Task[None]] = {}

    async def launch(self, spec: BuildSpec) -> str:
        if not spec.prebuilt:
            ref: str = await self.runner.launch(spec)
            return ref
        task = asyncio.create_task(self._publish(spec), name=f"publish-{spec.deployment_id}")
        self._publishing[spec.deployment_id] = task
        task.add_done_callback(lambda _: self._publishing.pop(spec.deployment_id, None))
        return PREBUILT

    async def _publish(self, spec: BuildSpec) -> None:
        about: dict[str, Any] = {
            "stream_id": spec.project_id, "project_id": spec.project_id,
            "deployment_id": spec.deployment_id, "correlation_id": spec.correlation_id}
        await self.append(BuildStarted(**about, commit_sha="", runner=PREBUILT))
        step: FailureStep = "publish"
        try:
            record = await read_upload(self.store, spec)
            published = await publish_upload(self.store, spec.deployment_id, record)
        except SiteConfigError as exc:
            reason, step = str(exc), "output"
        except SourceError as exc:
            reason = f"could not fetch the uploaded files: {exc}"
        except (BotoCoreError, ClientError) as exc:
            reason = f"could not upload the output: the artifact store did not answer " \
                     f"({type(exc).__name__})"
        except Exception:
            log.exception("publishing deployment %s failed", spec.deployment_id)
            reason, step = "internal error while publishing the upload", "internal"
        else:
            await self.append(DeploymentReady(
                **about, commit_sha="", file_count=published.file_count,
                total_bytes=published.total_bytes, uploaded_blobs=published.uploaded_blobs,
                install_ms=0, build_ms=0))
            return
        await self.append(DeploymentFailed(**about, reason=reason, step=step))

    def running(self) -> list[str]:
        inner = getattr(self.runner, "running", None)
        theirs: list[str] = list(inner()) if inner else []
        return theirs + list(self._publishing)

    async def cancel(self, deployment_id: str) -> None:
        task = self._publishing.get(deployment_id)
        if task is None:
            await self.runner.cancel(deployment_id)
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        for deployment_id in list(self._publishing):
            await self.cancel(deployment_id)
        await self.runner.close()

    def __getattr__(self, name: str) -> Any:
        """Everything else (``reap_overdue``) is the runner's."""
        return getattr(self.runner, name)
