"""A platform whose runner is ECS, end to end: the scheduler starts a task whose
environment holds the deployment id, a grant and the API's URL, never the build spec or
the project's build variables; the builder started with exactly that environment fetches
its spec (variables decrypted) from ``GET /v1/builds/{id}/spec``, then builds, reports
and publishes through the API. The spec route answers only a valid grant for the build
of that deployment, and only while it runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.grants import mint
from schemas.builds import BuildSpec
from schemas.envelope import new_id
from tests.e2e.test_remote_builder import (
    bad_grants,
    create_project,
    platform_key,
    reported,
    request_deployment,
)
from tests.support.fake_ecs import FakeEcs
from tests.support.platform import Platform, fresh_database
from tests.support.waiting import eventually

BUILD_JS = """
const fs = require('fs');
fs.mkdirSync('dist/assets', { recursive: true });
fs.writeFileSync('dist/index.html', '<h1>' + process.env.GREETING + '</h1>');
fs.writeFileSync('dist/assets/app.js', 'console.log("remote")');
console.log('built by node');
"""
SITE = {"package.json": json.dumps({"name": "r", "private": True,
                                    "scripts": {"build": "node build.js"}}),
        "build.js": BUILD_JS}


@pytest.fixture(scope="module")
def ecs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, FakeEcs]]:
    """``buildspace up`` with the ECS runner, its RunTask calls recorded by a fake ECS."""
    with FakeEcs() as fake, fresh_database() as dsn:
        running = Platform(tmp_path_factory.mktemp("ecs-platform"), dsn,
                           BUILDSPACE_RUNNER="ecs", BUILDSPACE_ECS_ENDPOINT=fake.url,
                           BUILDSPACE_ECS_SUBNETS='["subnet-e2e"]',
                           BUILDSPACE_MAX_CONCURRENT_BUILDS="8",
                           AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                           AWS_EC2_METADATA_DISABLED="true")
        running.env["BUILDSPACE_API_PUBLIC_URL"] = running.api
        running.start()
        try:
            yield running, fake
        finally:
            if running.proc and running.proc.poll() is None:
                running.stop()


def set_variables(platform: Platform, project_id: str, variables: dict[str, str]) -> None:
    with platform.client() as c:
        r = c.put(f"/v1/projects/{project_id}/env", json={"vars": variables})
    assert r.status_code == 200, r.text


def task_environment(run_task: dict[str, Any]) -> dict[str, str]:
    (override,) = run_task["overrides"]["containerOverrides"]
    return {e["name"]: e["value"] for e in override["environment"]}


def run_task_builder(task_env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m builder.run`` as the ECS task runs it: the task's environment, nothing
    more (beyond what any container has)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd),
           "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/task"} | task_env
    return subprocess.run([sys.executable, "-m", "builder.run"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def spec_client(platform: Platform, deployment_id: str, grant: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {grant}"} if grant else {}
    return httpx.Client(base_url=f"{platform.api}/v1/builds/{deployment_id}", headers=headers,
                        timeout=30)


def wait_for_status(platform: Platform, deployment_id: str, grant: str, status: int,
                    timeout: float = 30) -> httpx.Response:
    """The spec route's answer once it is ``status`` (the queue is projected from events),
    else the last one at the timeout, for the caller to assert on."""
    answers: list[httpx.Response] = []
    with spec_client(platform, deployment_id, grant) as c:
        def answered() -> bool:
            answers.append(c.get("/spec"))
            return answers[-1].status_code == status
        with contextlib.suppress(AssertionError):  # the caller judges the last answer
            eventually(answered, timeout, what=f"the spec route answers {status}",
                       interval=0.05)
    return answers[-1]


def test_an_ecs_build_gets_its_variables_from_the_api_not_its_environment(ecs, git_server,
                                                                          tmp_path):
    platform, fake = ecs
    greeting = "hello-" + os.urandom(8).hex()
    project = create_project(platform, git_server.make_repo(f"ecs-{new_id()[:8]}", SITE))
    set_variables(platform, project["id"], {"GREETING": greeting})
    accepted = request_deployment(platform, project["id"])

    run_task = fake.run_task_for(accepted["id"])

    task_env = task_environment(run_task)
    assert task_env["BUILDSPACE_DEPLOYMENT_ID"] == accepted["id"]
    assert task_env["BUILDSPACE_API_URL"] == platform.api
    assert "BUILDSPACE_BUILD_SPEC" not in task_env and "GREETING" not in task_env
    assert greeting not in json.dumps(run_task)  # not in the environment, tags or anywhere
    assert project["git_url"] not in json.dumps(run_task)

    done = run_task_builder(task_env, tmp_path)

    assert done.returncode == 0, done.stderr
    started = reported(platform, done.stderr, "BuildStarted")
    ready = reported(platform, done.stderr, "DeploymentReady")
    assert started["deployment_id"] == ready["deployment_id"] == accepted["id"]
    assert started["stream_id"] == ready["stream_id"] == project["id"]
    assert started["runner"] == "ecs"
    assert ready["file_count"] == 2 and ready["log_lines"] > 0
    assert platform.wait_status(accepted["id"], {"READY", "FAILED"})["status"] == "READY"
    site = project["url"].split("://", 1)[1].split(":", 1)[0]
    assert platform.wait_site(site).text == f"<h1>{greeting}</h1>"  # the variable was seen
    assert platform.get_site(site, "/assets/app.js").text == 'console.log("remote")'

    grant = task_env["BUILDSPACE_BUILD_GRANT"]
    built = hashlib.sha256(f"<h1>{greeting}</h1>".encode()).hexdigest()
    with spec_client(platform, accepted["id"], grant) as c:
        blobs = c.post("/blobs", json={"sha256": [built, "0" * 64]}).json()
    assert blobs["present"] == [built]
    assert [u["sha256"] for u in blobs["upload"]] == ["0" * 64]
    finished = wait_for_status(platform, accepted["id"], grant, 409)  # no spec once done
    assert finished.status_code == 409 and greeting not in finished.text


@pytest.fixture
def running_build(ecs) -> dict[str, Any]:
    """A deployment whose build the platform started (as a task that never runs), for a
    project with build variables; and the platform's grant key."""
    platform, fake = ecs
    project = create_project(platform, "http://127.0.0.1:1/never-cloned.git")
    variables = {"API_TOKEN": "tok-" + os.urandom(8).hex(), "GREETING": "hi"}
    set_variables(platform, project["id"], variables)
    accepted = request_deployment(platform, project["id"])
    fake.run_task_for(accepted["id"])
    return {"project_id": project["id"], "deployment_id": accepted["id"], "ref": accepted["ref"],
            "git_url": project["git_url"], "variables": variables, "key": platform_key(platform)}


def test_the_spec_route_hands_a_running_build_its_decrypted_variables(ecs, running_build):
    platform, _ = ecs
    d, p = running_build["deployment_id"], running_build["project_id"]
    grant = mint(running_build["key"], d, p, 600)

    with spec_client(platform, d, grant) as c:
        r = c.get("/spec")

    assert r.status_code == 200, r.text
    assert "no-store" in r.headers["cache-control"]
    spec = BuildSpec.model_validate_json(r.content)
    assert spec.env == running_build["variables"]
    assert (spec.deployment_id, spec.project_id) == (d, p)
    assert (spec.git_url, spec.ref) == (running_build["git_url"], running_build["ref"])


def test_the_spec_route_refuses_a_missing_wrong_or_foreign_grant(ecs, running_build):
    platform, _ = ecs
    d, p, key = running_build["deployment_id"], running_build["project_id"], running_build["key"]
    token = running_build["variables"]["API_TOKEN"]
    for label, grant in bad_grants({"deployment_id": d, "project_id": p, "key": key}).items():
        with spec_client(platform, d, grant) as c:
            r = c.get("/spec")
        assert r.status_code == 401, (label, r.text)
        assert r.json()["error"]["code"] == "unauthorized" and token not in r.text

    other_project = mint(key, d, "prj_someone_else", 600)  # genuine, but not its project
    with spec_client(platform, d, other_project) as c:
        r = c.get("/spec")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert token not in r.text


def test_the_spec_route_refuses_a_build_that_is_not_running(ecs, running_build, tmp_path):
    platform, _ = ecs
    d, p, key = running_build["deployment_id"], running_build["project_id"], running_build["key"]
    unknown = new_id()
    with spec_client(platform, unknown, mint(key, unknown, p, 600)) as c:
        r = c.get("/spec")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

    with platform.client() as c:
        assert c.post(f"/v1/deployments/{d}/cancel").status_code == 202
    grant = mint(key, d, p, 600)
    r = wait_for_status(platform, d, grant, 409)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict" and "not running" in r.text
    assert running_build["variables"]["API_TOKEN"] not in r.text

    done = run_task_builder({"BUILDSPACE_DEPLOYMENT_ID": d, "BUILDSPACE_BUILD_GRANT": grant,
                             "BUILDSPACE_API_URL": platform.api}, tmp_path)
    assert done.returncode == 2
    assert "could not fetch the build spec" in done.stderr and "409" in done.stderr
