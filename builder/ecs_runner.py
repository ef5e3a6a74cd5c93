"""Launch one build as an AWS ECS (Fargate) task from the builder image.

The task runs ``python -m builder.run`` with the build spec and the connection settings
in its environment; the builder itself publishes logs, status events and artifacts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from infra.settings import Settings
from schemas.builds import BuildSpec
from schemas.errors import RunnerError

STARTED_BY = "buildspace"
BUILD_COMMAND = ["python", "-m", "builder.run"]

# What the builder needs to reach Kafka and the object store, and to clone the same way
# the local runner does. Nothing else from the platform's settings enters the task.
FORWARDED_SETTINGS = (
    "kafka_bootstrap",
    "s3_endpoint",
    "s3_region",
    # Long-lived keys for now: issue 3 replaces them with presigned upload grants, so the
    # task (whose overrides any DescribeTasks caller can read) carries no S3 credentials.
    "s3_access_key",
    "s3_secret_key",
    "artifacts_bucket",
    "topic_events",
    "topic_logs",
    "git_allowed_protocols",
    "build_timeout_seconds",
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


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def build_environment(settings: Settings, spec: BuildSpec) -> list[dict[str, str]]:
    """The container environment: the spec as JSON plus the forwarded settings."""
    if not settings.kafka_bootstrap:
        raise EcsRunnerError("an ECS build needs BUILDSPACE_KAFKA_BOOTSTRAP (a reachable broker)")
    env = [{"name": "BUILDSPACE_BUILD_SPEC", "value": spec.model_dump_json()}]
    for field in FORWARDED_SETTINGS:
        value = getattr(settings, field)
        if value is not None:
            env.append({"name": f"BUILDSPACE_{field.upper()}", "value": _env_value(value)})
    return env


def run_task_request(settings: Settings, spec: BuildSpec) -> dict[str, Any]:
    """The RunTask arguments for one build."""
    return {
        "cluster": settings.ecs_cluster,
        "taskDefinition": settings.ecs_task_definition,
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": STARTED_BY,
        # One task per deployment: a launch replayed after a worker crash (the launcher
        # re-reads events after its last stored offset) returns the task already started.
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
                    "environment": build_environment(settings, spec),
                }
            ]
        },
        "tags": [
            {"key": "deployment_id", "value": spec.deployment_id},
            {"key": "project_id", "value": spec.project_id},
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


class EcsRunner:
    """Starts each build as a Fargate task and stops it on cancel."""

    name = "ecs"

    def __init__(self, settings: Settings, ecs_client: Any = None) -> None:
        self._settings = settings
        self._owns_client = ecs_client is None
        self._client = ecs_client if ecs_client is not None else default_ecs_client(settings)
        self._tasks: dict[str, str] = {}

    async def launch(self, spec: BuildSpec) -> str:
        """Start the build task for ``spec``; returns the task ARN."""
        request = run_task_request(self._settings, spec)
        response = await self._call("run_task", **request)
        arn = _task_arn(response, spec.deployment_id)
        self._tasks[spec.deployment_id] = arn
        return arn

    async def cancel(self, deployment_id: str) -> None:
        """Stop the deployment's task; a deployment with no running task is a no-op."""
        arn = self._tasks.pop(deployment_id, None) or await self._find_task(deployment_id)
        if arn is None:
            return
        try:
            await self._call(
                "stop_task", cluster=self._settings.ecs_cluster, task=arn, reason="canceled"
            )
        except EcsRunnerError as exc:
            # ECS answers this for a task that ended long enough ago to be forgotten.
            if exc.aws_code != "InvalidParameterException":
                raise

    async def close(self) -> None:
        self._tasks.clear()
        if self._owns_client:
            self._client.close()

    async def _find_task(self, deployment_id: str) -> str | None:
        # After a worker restart the in-memory map is empty: find the task by its tag.
        arns = await asyncio.to_thread(self._running_task_arns)
        for start in range(0, len(arns), 100):  # DescribeTasks takes at most 100 ARNs
            described = await self._call(
                "describe_tasks",
                cluster=self._settings.ecs_cluster,
                tasks=arns[start : start + 100],
                include=["TAGS"],
            )
            for task in described.get("tasks", []):
                tags = {t.get("key"): t.get("value") for t in task.get("tags", [])}
                if tags.get("deployment_id") == deployment_id:
                    return str(task["taskArn"])
        return None

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
