"""Launch one build as an AWS ECS (Fargate) task from the builder image.

The task runs ``python -m builder.run`` with only the deployment id, a grant for that
one deployment (``infra.grants``), the API's public URL and the non-secret build limits
in its environment: no build spec and no build variables, no Kafka address, no S3 keys,
no AWS credentials (any DescribeTasks caller can read a task's overrides). With the
grant the builder fetches its spec, variables included, from
``GET /v1/builds/{deployment_id}/spec`` while the build runs, then reports through the
API (``commands.build_ingest``). The grant expires soon after the build's deadline; a
task still running at its deadline (its ``deadline`` tag) is stopped by
``reap_overdue``, which the worker calls periodically.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.grants import grant_ttl, mint
from infra.secrets import grant_key
from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.errors import RunnerError

STARTED_BY = "buildspace"
BUILD_COMMAND = ["python", "-m", "builder.run"]
# After build_timeout_seconds a build has also cloned (up to 5 min), waited for Fargate
# capacity and published: a task is overdue only this much later. Grants outlive it.
OVERDUE_MARGIN_S = 600

# Limits and clone policy the builder applies; nothing secret, nothing to connect with.
FORWARDED_LIMITS = (
    "git_allowed_protocols",
    "build_timeout_seconds",
    "build_memory_mb",
    "build_pids",
    "build_cpus",
    "build_disk_mb",
    "build_output_mb",
    "heartbeat_seconds",
)


class EcsRunnerError(RunnerError):
    """ECS refused or failed to start, find or stop a build task."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.aws_code = code


def default_ecs_client(settings: Settings) -> Any:
    """An ECS client; credentials come from the standard AWS chain (task role, env, …)."""
    return boto3.client(
        "ecs",
        endpoint_url=settings.ecs_endpoint,
        region_name=settings.s3_region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def overdue_after(settings: Settings) -> int:
    return settings.build_timeout_seconds + OVERDUE_MARGIN_S


def _env_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def api_url(settings: Settings) -> str:
    if not settings.api_public_url:
        raise EcsRunnerError("an ECS build needs BUILDSPACE_API_PUBLIC_URL: the URL at which "
                             "build tasks reach the API to report")
    return settings.api_public_url


def build_environment(settings: Settings, spec: BuildSpec, grant: str) -> list[dict[str, str]]:
    """The container environment: which deployment, its grant, the API, the limits.
    Never the spec: its ``env`` holds the project's build variables in plaintext."""
    env = {"BUILDSPACE_DEPLOYMENT_ID": spec.deployment_id, "BUILDSPACE_BUILD_GRANT": grant,
           "BUILDSPACE_API_URL": api_url(settings)}
    for field in FORWARDED_LIMITS:
        env[f"BUILDSPACE_{field.upper()}"] = _env_value(getattr(settings, field))
    return [{"name": name, "value": value} for name, value in env.items()]


def run_task_request(settings: Settings, spec: BuildSpec, grant: str, deadline: int
                     ) -> dict[str, Any]:
    """The RunTask arguments for one build; ``deadline`` is when it is overdue (unix s)."""
    return {
        "cluster": settings.ecs_cluster,
        "taskDefinition": settings.ecs_task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": STARTED_BY,
        # One task per deployment: a repeated launch conflicts (ECS ConflictException,
        # the grant differs) and is answered with the task already started.
        "clientToken": hashlib.sha256(f"buildspace:{spec.deployment_id}".encode()).hexdigest(),
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(settings.ecs_subnets),
                "securityGroups": list(settings.ecs_security_groups),
                "assignPublicIp": "ENABLED" if settings.ecs_assign_public_ip else "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {
                    "name": settings.ecs_container_name,
                    "command": BUILD_COMMAND,
                    "environment": build_environment(settings, spec, grant),
                }
            ]
        },
        "tags": [
            {"key": "deployment_id", "value": spec.deployment_id},
            {"key": "project_id", "value": spec.project_id},
            {"key": "deadline", "value": str(deadline)},
        ],
    }


def _task_arn(response: dict[str, Any], deployment_id: str) -> str:
    failures = response.get("failures") or []
    tasks = response.get("tasks") or []
    if failures or not tasks:
        reasons = "; ".join(
            f"{f.get('arn', '?')}: {f.get('reason', 'unknown')} {f.get('detail', '')}".strip()
            for f in failures
        )
        raise EcsRunnerError(
            f"ECS did not start the build for deployment {deployment_id}: "
            f"{reasons or 'no task returned'}"
        )
    return str(tasks[0]["taskArn"])


def _runner_error(operation: str, exc: Exception) -> EcsRunnerError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    return EcsRunnerError(f"ECS {operation} failed: {exc}", code=code)


def _tags(task: dict[str, Any]) -> dict[str, str]:
    return {t.get("key", ""): t.get("value", "") for t in task.get("tags", [])}


def _deadline(task: dict[str, Any], settings: Settings) -> float | None:
    """When the task is overdue: its tag, else (launched elsewhere) created + limit."""
    tag = _tags(task).get("deadline", "")
    if tag.isdigit():
        return float(tag)
    created = task.get("createdAt")
    return created.timestamp() + overdue_after(settings) if created else None


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
        arn = _task_arn(response, spec.deployment_id)
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
            deployment_id = _tags(task).get("deployment_id")
            deadline = _deadline(task, self._settings)
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
            if _tags(task).get("deployment_id") == deployment_id:
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
