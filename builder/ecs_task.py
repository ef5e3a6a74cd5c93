"""What one build's ECS (Fargate) task is: the RunTask request that starts it (the
builder's command, an environment with the deployment's grant and the non-secret build
limits, never the spec; the tags by which the runner finds it again, its ``deadline``
included), and what a started or described task tells back (its ARN, tags, deadline).
``builder.ecs_runner`` makes the calls.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

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


def started_task_arn(response: dict[str, Any], deployment_id: str) -> str:
    """The task RunTask started; ECS's reasons, in an error, when it started none."""
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


def task_tags(task: dict[str, Any]) -> dict[str, str]:
    return {t.get("key", ""): t.get("value", "") for t in task.get("tags", [])}


def task_deadline(task: dict[str, Any], settings: Settings) -> float | None:
    """When the task is overdue: its tag, else (launched elsewhere) created + limit."""
    tag = task_tags(task).get("deadline", "")
    if tag.isdigit():
        return float(tag)
    created = task.get("createdAt")
    return created.timestamp() + overdue_after(settings) if created else None

