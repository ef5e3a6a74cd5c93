"""compose.yaml is well-formed: real images, healthchecks, and healthy-first startup.

Docker is not available to the test suite, so this checks the file's shape only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.kafka_jars import KAFKA_VERSION
from infra.settings import Settings

COMPOSE = Path(__file__).parents[1] / "compose.yaml"
ROLES = {"api": ("api", 9000), "worker": ("worker", None), "edge": ("edge", 8000)}
SECRETS_AND_DOMAIN = (
    "BUILDSPACE_S3_ACCESS_KEY",
    "BUILDSPACE_S3_SECRET_KEY",
    "BUILDSPACE_BASE_DOMAIN",
)


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def dependencies(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    depends = service.get("depends_on", {})
    assert isinstance(depends, dict), "depends_on must name a condition for each dependency"
    return depends


def test_the_stack_has_every_component(services: dict[str, dict[str, Any]]) -> None:
    images = {name: s.get("image", "") for name, s in services.items()}
    assert images["kafka"] == f"apache/kafka:{KAFKA_VERSION}"  # as embedded
    assert images["postgres"] == "postgres:16"
    assert images["clickhouse"].startswith("clickhouse/clickhouse-server:")
    assert images["minio"].startswith("minio/minio:")
    assert images["minio-init"].startswith("minio/mc:")
    assert set(ROLES) <= set(services)


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} disables its healthcheck"


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, spec in dependencies(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            other = services[target]
            if is_one_shot(other):
                assert spec["condition"] == "service_completed_successfully", (name, target)
            else:
                assert spec["condition"] == "service_healthy", (name, target)
                assert "healthcheck" in other, f"{name} waits for {target}, which has none"


def test_roles_run_the_platform_image_configured_by_env(
    services: dict[str, dict[str, Any]],
) -> None:
    for role, (command, port) in ROLES.items():
        service = services[role]
        assert service["build"]["dockerfile"] == "infra/Dockerfile"
        assert service["command"] == [command]
        env = service["environment"]
        assert env["BUILDSPACE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["BUILDSPACE_CLICKHOUSE_DSN"] == "http://clickhouse:8123"
        assert env["BUILDSPACE_S3_ENDPOINT"] == "http://minio:9000"
        for key in SECRETS_AND_DOMAIN:
            assert key in env, f"{role} lacks {key}"
        assert {"kafka", "postgres", "clickhouse", "minio"} <= set(dependencies(service))
        if port is not None:
            assert f"{port}:{port}" in service["ports"]


def test_kafka_runs_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    env = services["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["CLUSTER_ID"]


def test_every_buildspace_variable_names_a_setting(services: dict[str, dict[str, Any]]) -> None:
    fields = set(Settings.model_fields)
    for role in ROLES:
        for key in services[role]["environment"]:
            if key.startswith("BUILDSPACE_"):
                assert key.removeprefix("BUILDSPACE_").lower() in fields, f"{role}: {key}"


def test_the_roles_are_healthy_by_their_own_health_endpoints(
        services: dict[str, dict[str, Any]]) -> None:
    defaults = Settings()
    ports = {"api": defaults.api_port, "worker": defaults.worker_port,
             "edge": defaults.edge_admin_port}
    for role, port in ports.items():
        check = " ".join(services[role]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in check, role
