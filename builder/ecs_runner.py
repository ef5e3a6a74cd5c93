"""Launch one build as an AWS ECS (Fargate) task from the builder image; stop it on
cancel and when it is overdue.

The task runs ``python -m builder.run`` with only the deployment id, a grant for that
one deployment (``infra.grants``), the API's public URL and the non-secret build limits
in its environment: no build spec and no build variables, no Kafka address, no S3 keys,
no AWS credentials (any DescribeTasks caller can read a task's overrides). With the
grant the builder fetches its spec, variables included, from
``GET /v1/builds/{deployment_id}/spec`` while the build runs, then reports through the
API (``commands.builds.http``). The grant expires soon after the build's deadline; a
task still running at its deadline (its ``deadline`` tag) is stopped by
``reap_overdue``, which the worker calls periodically. What a task is launched with,
and what ECS tells back about one, is in ``builder.ecs_task``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from builder.ecs_task import (
    STARTED_BY,
    EcsRunnerError,
    overdue_after,
    run_task_request,
    started_task_arn,
    task_deadline,
    task_tags,
)
from infra.grants import grant_ttl, mint
from infra.secrets import grant_key
from infra.settings import Settings
from schemas.builds import BuildSpec


def default_ecs_client(settings: Settings) -> Any:
    """An ECS client; credentials come from the standard AWS chain (task role, env, …)."""
    return boto3.client(
        "ecs",
        endpoint_url=settings.ecs_endpoint,
        region_name=settings.s3_region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def _runner_error(operation: str, exc: Exception) -> EcsRunnerError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return EcsRunnerError(f"ECS {operation} failed: {exc}", code=code)


class EcsRunner:
    """Starts each build as a Fargate task; stops it on cancel and when overdue."""

    name = "ecs"

    def __init__(self, settings: Settings, ecs_client: Any = None) -> None:
        self._settings = settings
        self._owns_client = ecs_client is None
        self._client = ecs_client if ecs_client is not None else default_ecs_client(settings)
        self._tasks: dict[str, str] = {}
        self._key: bytes | None = None

    async def launch(self, spec: BuildSpec) -> str:
        """Start the build task for ``spec``; returns the task ARN."""
        s = self._settings
        self._key = self._key or grant_key(s)
        grant = mint(self._key, spec.deployment_id, spec.project_id, grant_ttl(s))
        request = run_task_request(s, spec, grant, int(time.time()) + overdue_after(s))
        try:
            response = await self._call("run_task", **request)
        except EcsRunnerError as exc:
            if exc.aws_code != "ConflictException":
                raise
            return await self._launched_before(spec.deployment_id)
        arn = started_task_arn(response, spec.deployment_id)
        self._tasks[spec.deployment_id] = arn
        return arn

    async def cancel(self, deployment_id: str) -> None:
        """Stop the deployment's task; a deployment with no running task is a no-op."""
        arn = self._tasks.pop(deployment_id, None) or await self._find_task(deployment_id)
        if arn is not None:
            await self._stop(arn, "canceled")

    async def reap_overdue(self, on_overdue: Callable[[str], Awaitable[None]] | None = None,
                           now: float | None = None) -> list[str]:
        """Stop every build task past its deadline; returns their deployment ids.
        ``on_overdue(deployment_id)`` runs before each stop, so a failure the caller
        reports (timed out) comes before the one the stopped builder sends (canceled)."""
        now = time.time() if now is None else now
        overdue = []
        for task in await self._running_tasks():
            deployment_id = task_tags(task).get("deployment_id")
            deadline = task_deadline(task, self._settings)
            if not deployment_id or deadline is None or deadline > now:
                continue
            if on_overdue is not None:
                await on_overdue(deployment_id)
            limit = overdue_after(self._settings)
            await self._stop(str(task["taskArn"]), f"timed out: running over {limit} s")
            self._tasks.pop(deployment_id, None)
            overdue.append(deployment_id)
        return overdue

    async def close(self) -> None:
        self._tasks.clear()
        if self._owns_client:
            self._client.close()

    async def _launched_before(self, deployment_id: str) -> str:
        arn = self._tasks.get(deployment_id) or await self._find_task(deployment_id)
        if arn is None:
            return f"already launched, no longer running ({deployment_id})"
        self._tasks[deployment_id] = arn
        return arn

    async def _stop(self, arn: str, reason: str) -> None:
        try:
            await self._call("stop_task", cluster=self._settings.ecs_cluster, task=arn,
                             reason=reason)
        except EcsRunnerError as exc:
            # ECS answers this for a task that ended long enough ago to be forgotten.
            if exc.aws_code != "InvalidParameterException":
                raise

    async def _find_task(self, deployment_id: str) -> str | None:
        # After a worker restart the in-memory map is empty: find the task by its tag.
        for task in await self._running_tasks():
            if task_tags(task).get("deployment_id") == deployment_id:
                return str(task["taskArn"])
        return None

    async def _running_tasks(self) -> list[dict[str, Any]]:
        """Every build task ECS still runs (or is starting), with its tags."""
        arns = await asyncio.to_thread(self._running_task_arns)
        tasks: list[dict[str, Any]] = []
        for start in range(0, len(arns), 100):  # DescribeTasks takes at most 100 ARNs
            described = await self._call("describe_tasks", cluster=self._settings.ecs_cluster,
                                         tasks=arns[start : start + 100], include=["TAGS"])
            tasks.extend(described.get("tasks", []))
        return tasks

    def _running_task_arns(self) -> list[str]:
        pages = self._client.get_paginator("list_tasks").paginate(
            cluster=self._settings.ecs_cluster, startedBy=STARTED_BY, desiredStatus="RUNNING"
        )
        try:
            return [arn for page in pages for arn in page.get("taskArns", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _runner_error("list_tasks", exc) from None

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, operation)
        try:
            return await asyncio.to_thread(method, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _runner_error(operation, exc) from None
