"""The ECS runner against moto's ECS and EC2: launch with a grant and no secrets (no
build spec, no build variables), inspect, cancel, stop when overdue, refuse."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from pydantic import SecretStr

from builder.ecs_runner import EcsRunner, default_ecs_client
from builder.ecs_task import FORWARDED_LIMITS, EcsRunnerError, overdue_after, run_task_request
from infra.grants import GrantError, grant_ttl, verify
from infra.settings import Settings
from schemas.builds import BuildSettings, BuildSpec

REGION = "us-east-1"
GRANT_SECRET = "grant-secret-for-tests"
API_URL = "https://api.buildspace.example"
TASK_DEFINITION = Path(__file__).parents[2] / "infra" / "ecs-task-definition.json"

SPEC = BuildSpec(
    project_id="prj_1",
    deployment_id="dpl_1",
    git_url="https://github.com/example/site.git",
    ref="main",
    settings=BuildSettings(build_command="npm run build", output_directory="dist"),
    correlation_id="corr_1",
)
# As the scheduler hands it to the runner: the project's build variables decrypted.
VARIABLES = {"NPM_TOKEN": "npm_SeCrEtVaLuE1234", "DATABASE_PASSWORD": "hunter2-but-longer"}
SPEC_WITH_VARIABLES = SPEC.model_copy(update={"env": VARIABLES})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A VPC with a subnet and security group, an ECS cluster, the builder task definition."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(
            GroupName="buildspace-builder", Description="builds", VpcId=vpc
        )["GroupId"]
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName="buildspace")
        ecs.register_task_definition(**json.loads(TASK_DEFINITION.read_text()))
        yield {"ec2": ec2, "ecs": ecs, "subnet": subnet, "group": group}


def make_settings(aws: dict[str, Any], **overrides: Any) -> Settings:
    """The platform's settings, secrets included: none of them may reach the task."""
    values: dict[str, Any] = {
        "kafka_bootstrap": "kafka.internal:9092",
        "s3_endpoint": "https://s3.internal",
        "s3_access_key": SecretStr("platform-access-key"),
        "s3_secret_key": SecretStr("platform-secret-key"),
        "grant_secret": SecretStr(GRANT_SECRET),
        "api_public_url": API_URL,
        "ecs_subnets": [aws["subnet"]],
        "ecs_security_groups": [aws["group"]],
        "ecs_assign_public_ip": True,
    }
    return Settings(**{**values, **overrides})


def offline_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"grant_secret": SecretStr(GRANT_SECRET), "api_public_url": API_URL}
    return Settings(**{**values, **overrides})


def capture_run_task(client: Any) -> list[dict[str, Any]]:
    """Record the RunTask parameters as sent (moto does not echo network settings)."""
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: sent.append(params)
    )
    return sent


def describe(ecs: Any, arn: str) -> dict[str, Any]:
    tasks = ecs.describe_tasks(cluster="buildspace", tasks=[arn], include=["TAGS"])["tasks"]
    assert len(tasks) == 1
    return tasks[0]


def env_of(task: dict[str, Any]) -> dict[str, str]:
    (override,) = task["overrides"]["containerOverrides"]
    return {e["name"]: e["value"] for e in override["environment"]}


async def launched_env(aws: dict[str, Any], settings: Settings, spec: BuildSpec = SPEC
                       ) -> dict[str, str]:
    arn = await EcsRunner(settings, ecs_client=aws["ecs"]).launch(spec)
    return env_of(describe(aws["ecs"], arn))


def test_a_deployment_is_launched_with_one_idempotency_token(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)
    other = SPEC.model_copy(update={"deployment_id": "dpl_2"})

    first, again, second = (run_task_request(settings, s, "grant", 0) for s in (SPEC, SPEC, other))

    assert first["clientToken"] == again["clientToken"] != second["clientToken"]
    assert len(first["clientToken"]) <= 64


def test_task_definition_is_fargate_and_carries_no_secrets() -> None:
    definition = json.loads(TASK_DEFINITION.read_text())
    assert definition["family"] == "buildspace-builder"
    assert definition["networkMode"] == "awsvpc"
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    (container,) = definition["containerDefinitions"]
    assert container["name"] == "builder" and container["memory"] > 0
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert "secrets" not in container
    names = {e["name"] for e in container.get("environment", [])}
    assert not {n for n in names if "KEY" in n or "SECRET" in n or "PASSWORD" in n}


@pytest.mark.asyncio
async def test_launch_starts_a_fargate_task_for_the_deployment(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)
    runner = EcsRunner(settings, ecs_client=aws["ecs"])
    sent = capture_run_task(aws["ecs"])

    launched_at = time.time()
    arn = await runner.launch(SPEC)

    task = describe(aws["ecs"], arn)
    assert task["clusterArn"].endswith(":cluster/buildspace")
    assert task["taskDefinitionArn"].endswith(":task-definition/buildspace-builder:1")
    assert task["launchType"] == "FARGATE"
    assert task["startedBy"] == "buildspace"
    assert task["desiredStatus"] == "RUNNING"
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "builder"
    assert override["command"] == ["python", "-m", "builder.run"]
    env = env_of(task)
    assert env["BUILDSPACE_DEPLOYMENT_ID"] == "dpl_1"
    assert env["BUILDSPACE_API_URL"] == API_URL
    assert "BUILDSPACE_BUILD_SPEC" not in env  # the builder fetches it with its grant
    assert json.loads(env["BUILDSPACE_GIT_ALLOWED_PROTOCOLS"]) == ["http", "https"]
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert int(tags.pop("deadline")) == pytest.approx(launched_at + overdue_after(settings), abs=5)
    assert tags == {"deployment_id": "dpl_1", "project_id": "prj_1"}
    (attachment,) = task["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] == aws["subnet"]
    (network,) = [p["networkConfiguration"]["awsvpcConfiguration"] for p in sent]
    assert network == {
        "subnets": [aws["subnet"]],
        "securityGroups": [aws["group"]],
        "assignPublicIp": "ENABLED",
    }


@pytest.mark.asyncio
async def test_the_task_environment_holds_no_platform_secret(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)

    env = await launched_env(aws, settings)

    assert {"BUILDSPACE_DEPLOYMENT_ID", "BUILDSPACE_BUILD_GRANT", "BUILDSPACE_API_URL"} <= set(env)
    forbidden = ("AWS", "KAFKA", "S3", "SECRET", "KEY", "DATABASE", "CLICKHOUSE", "BUCKET")
    assert not [name for name in env if any(word in name for word in forbidden)]
    secrets = {"platform-access-key", "platform-secret-key", GRANT_SECRET,
               "kafka.internal:9092", "https://s3.internal"}
    assert not [v for v in env.values() if any(secret in v for secret in secrets)]


@pytest.mark.asyncio
async def test_build_variables_and_the_spec_never_reach_the_task(aws: dict[str, Any]) -> None:
    """Anyone who can DescribeTasks (or read CloudTrail) sees the overrides: the task
    gets the deployment id and a grant, and fetches its variables with the grant."""
    settings = make_settings(aws)
    sent = capture_run_task(aws["ecs"])

    arn = await EcsRunner(settings, ecs_client=aws["ecs"]).launch(SPEC_WITH_VARIABLES)

    task = describe(aws["ecs"], arn)
    env = env_of(task)
    limits = {f"BUILDSPACE_{field.upper()}" for field in FORWARDED_LIMITS}
    assert set(env) == {"BUILDSPACE_DEPLOYMENT_ID", "BUILDSPACE_BUILD_GRANT",
                        "BUILDSPACE_API_URL"} | limits
    assert not [name for name in env if "SPEC" in name or name in VARIABLES]
    everything = json.dumps(sent) + json.dumps(task, default=str)  # request, task, tags
    for name, value in VARIABLES.items():
        assert value not in everything, name
    assert SPEC.git_url not in everything  # nothing of the spec beyond its ids
    assert verify(GRANT_SECRET.encode(), env["BUILDSPACE_BUILD_GRANT"], "dpl_1")


@pytest.mark.asyncio
async def test_the_grant_is_for_that_deployment_only(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)
    launched_at = time.time()

    token = (await launched_env(aws, settings))["BUILDSPACE_BUILD_GRANT"]

    grant = verify(GRANT_SECRET.encode(), token, "dpl_1")
    assert (grant.deployment_id, grant.project_id) == ("dpl_1", "prj_1")
    assert grant.expires_at == pytest.approx(launched_at + grant_ttl(settings), abs=5)
    assert grant.expires_at > launched_at + overdue_after(settings)  # outlives the task
    with pytest.raises(GrantError, match="another deployment"):
        verify(GRANT_SECRET.encode(), token, "dpl_2")
    with pytest.raises(GrantError, match="signature"):
        verify(b"another platform's key", token, "dpl_1")


@pytest.mark.asyncio
async def test_each_deployment_gets_its_own_grant(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)
    other = SPEC.model_copy(update={"deployment_id": "dpl_2"})

    first = (await launched_env(aws, settings))["BUILDSPACE_BUILD_GRANT"]
    second = (await launched_env(aws, settings, other))["BUILDSPACE_BUILD_GRANT"]

    assert verify(GRANT_SECRET.encode(), second, "dpl_2").deployment_id == "dpl_2"
    with pytest.raises(GrantError):
        verify(GRANT_SECRET.encode(), first, "dpl_2")


@pytest.mark.asyncio
async def test_the_forwarded_limits_configure_the_builder(aws: dict[str, Any]) -> None:
    settings = make_settings(aws, build_timeout_seconds=123, build_memory_mb=777,
                             heartbeat_seconds=3.5)
    env = await launched_env(aws, settings)

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        seen = Settings()
    assert (seen.build_timeout_seconds, seen.build_memory_mb) == (123, 777)
    assert seen.heartbeat_seconds == 3.5
    assert seen.kafka_bootstrap is None
    assert seen.s3_secret_key != settings.s3_secret_key


@pytest.mark.asyncio
async def test_cancel_stops_the_deployments_task(aws: dict[str, Any]) -> None:
    runner = EcsRunner(make_settings(aws), ecs_client=aws["ecs"])
    other = SPEC.model_copy(update={"deployment_id": "dpl_2"})

    arn = await runner.launch(SPEC)
    other_arn = await runner.launch(other)
    await runner.cancel("dpl_1")

    stopped = describe(aws["ecs"], arn)
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "canceled"
    assert describe(aws["ecs"], other_arn)["desiredStatus"] == "RUNNING"


@pytest.mark.asyncio
async def test_cancel_finds_the_task_after_a_restart(aws: dict[str, Any]) -> None:
    settings = make_settings(aws)
    arn = await EcsRunner(settings, ecs_client=aws["ecs"]).launch(SPEC)

    restarted = EcsRunner(settings, ecs_client=aws["ecs"])
    await restarted.cancel("dpl_1")

    assert describe(aws["ecs"], arn)["desiredStatus"] == "STOPPED"


@pytest.mark.asyncio
async def test_cancel_of_an_unknown_deployment_changes_nothing(aws: dict[str, Any]) -> None:
    runner = EcsRunner(make_settings(aws), ecs_client=aws["ecs"])
    arn = await runner.launch(SPEC)

    await runner.cancel("dpl_unknown")

    assert describe(aws["ecs"], arn)["desiredStatus"] == "RUNNING"


@pytest.mark.asyncio
async def test_a_task_running_past_its_deadline_is_stopped(aws: dict[str, Any]) -> None:
    settings = make_settings(aws, build_timeout_seconds=60)
    runner = EcsRunner(settings, ecs_client=aws["ecs"])
    reported: list[tuple[str, str]] = []

    async def on_overdue(deployment_id: str) -> None:
        reported.append((deployment_id, describe(aws["ecs"], arns[0])["desiredStatus"]))

    arns: list[str] = []
    arns.append(await runner.launch(SPEC))
    early = await runner.reap_overdue(on_overdue)
    restarted = EcsRunner(settings, ecs_client=aws["ecs"])  # no memory of the launch
    late = await restarted.reap_overdue(on_overdue,
                                        now=time.time() + overdue_after(settings) + 5)

    assert early == [] and late == ["dpl_1"]
    assert reported == [("dpl_1", "RUNNING")]  # told before the task is stopped
    stopped = describe(aws["ecs"], arns[0])
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"].startswith("timed out")


@pytest.mark.asyncio
async def test_a_task_within_its_deadline_keeps_running(aws: dict[str, Any]) -> None:
    settings = make_settings(aws, build_timeout_seconds=60)
    runner = EcsRunner(settings, ecs_client=aws["ecs"])
    arn = await runner.launch(SPEC)

    almost = time.time() + overdue_after(settings) - 30
    assert await runner.reap_overdue(now=almost) == []

    assert describe(aws["ecs"], arn)["desiredStatus"] == "RUNNING"


@pytest.mark.asyncio
async def test_run_task_failures_raise_a_clear_error() -> None:
    client = boto3.client(
        "ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    settings = offline_settings(ecs_subnets=["subnet-1"])
    with Stubber(client) as stub:
        stub.add_response(
            "run_task",
            {"tasks": [], "failures": [{"arn": "arn:aws:ecs:x", "reason": "RESOURCE:MEMORY"}]},
        )
        runner = EcsRunner(settings, ecs_client=client)
        with pytest.raises(EcsRunnerError, match=r"dpl_1.*RESOURCE:MEMORY"):
            await runner.launch(SPEC)
        stub.assert_no_pending_responses()


@pytest.mark.asyncio
async def test_a_repeated_launch_is_answered_with_the_running_task() -> None:
    """ECS refuses a client token reused with other parameters (a new grant): the
    deployment's task from the first launch is the answer."""
    client = boto3.client(
        "ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    arn = "arn:aws:ecs:us-east-1:123456789012:task/buildspace/first"
    with Stubber(client) as stub:
        stub.add_client_error("run_task", service_error_code="ConflictException",
                              service_message="The client token was used with other params.")
        stub.add_response("list_tasks", {"taskArns": [arn]})
        stub.add_response("describe_tasks", {"tasks": [
            {"taskArn": arn, "tags": [{"key": "deployment_id", "value": "dpl_1"}]}]})
        runner = EcsRunner(offline_settings(), ecs_client=client)

        assert await runner.launch(SPEC) == arn
        stub.assert_no_pending_responses()


@pytest.mark.asyncio
async def test_cancel_of_a_task_ecs_has_forgotten_is_a_no_op() -> None:
    client = boto3.client(
        "ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    arn = "arn:aws:ecs:us-east-1:123456789012:task/buildspace/gone"
    with Stubber(client) as stub:
        stub.add_response("run_task", {"tasks": [{"taskArn": arn}], "failures": []})
        stub.add_client_error(
            "stop_task",
            service_error_code="InvalidParameterException",
            service_message="The referenced task was not found.",
        )
        runner = EcsRunner(offline_settings(), ecs_client=client)

        await runner.launch(SPEC)
        await runner.cancel("dpl_1")
        stub.assert_no_pending_responses()


@pytest.mark.asyncio
async def test_a_missing_cluster_raises_a_clear_error(aws: dict[str, Any]) -> None:
    runner = EcsRunner(make_settings(aws, ecs_cluster="absent"), ecs_client=aws["ecs"])

    with pytest.raises(EcsRunnerError, match="run_task failed.*Cluster not found"):
        await runner.launch(SPEC)


@pytest.mark.asyncio
async def test_launch_without_the_api_public_url_is_refused(aws: dict[str, Any]) -> None:
    runner = EcsRunner(make_settings(aws, api_public_url=None), ecs_client=aws["ecs"])

    with pytest.raises(EcsRunnerError, match="BUILDSPACE_API_PUBLIC_URL"):
        await runner.launch(SPEC)
    assert aws["ecs"].list_tasks(cluster="buildspace")["taskArns"] == []


def test_default_client_uses_the_ecs_endpoint_and_region() -> None:
    settings = Settings(ecs_endpoint="http://ecs.local:4566", s3_region="eu-west-1")
    client = default_ecs_client(settings)
    assert client.meta.endpoint_url == "http://ecs.local:4566"
    assert client.meta.region_name == "eu-west-1"
    client.close()
