"""The running platform's API as a state machine (issue 17): hypothesis drives random
sequences of commands (create a project, change its settings and build variables, add
and remove custom domains, deploy uploaded files served as they are, promote, roll
back, delete) against a small model, and after every step the read models (the
project, its domains, its variable names, its deployments) say what the model says.

    .venv/bin/pytest tests/e2e/test_properties_api.py
    .venv/bin/pytest tests/e2e/test_properties_api.py -m slow_properties  # longer run
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from schemas.envelope import new_id
from tests.support.platform import Platform
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PAGE = b"<p>property-based</p>"
FILES = {"index.html": {"sha256": hashlib.sha256(PAGE).hexdigest(), "size": len(PAGE)}}
VARIABLES = ("API_URL", "TOKEN", "MODE")


@dataclass
class Project:
    """What the model expects the read models to show of one project."""

    id: str
    name: str
    deleted: bool = False
    branch: str = "main"
    build_command: str | None = None
    env: set[str] = field(default_factory=set)
    domains: dict[str, bool] = field(default_factory=dict)  # hostname -> verified
    deployments: list[str] = field(default_factory=list)  # oldest first
    production: str | None = None
    auto: bool = True
    history: list[str] = field(default_factory=list)  # production, in order

    def move(self, deployment_id: str) -> None:
        if self.production != deployment_id:
            self.production = deployment_id
            self.history.append(deployment_id)

    def earlier(self) -> list[str]:
        """Rollback's candidates: production deployments older than the current one."""
        number = self.deployments.index
        current = None if self.production is None else number(self.production)
        return sorted({d for d in self.history if d != self.production
                       and (current is None or number(d) < current)}, key=number, reverse=True)


class ApiMachine(RuleBasedStateMachine):
    projects = Bundle("projects")

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self.client = platform.client()
        self.run = new_id()[:8]  # names and hostnames of this run only
        self.model: dict[str, Project] = {}
        self.claims: dict[str, str] = {}  # hostname -> project id

    def teardown(self) -> None:
        self.client.close()

    def expect(self, r: httpx.Response, project: Project, status: int) -> bool:
        """``r`` is ``status``, or 404 for a deleted project; whether it was accepted."""
        wanted = 404 if project.deleted else status
        assert r.status_code == wanted, f"{r.request.method} {r.request.url}: {r.text}"
        return r.is_success

    @initialize(target=projects)
    def first(self) -> str:
        """Every run starts with a project, so that every rule applies from its first step."""
        return self.new_project()

    @rule(target=projects)
    def create(self) -> str:
        return self.new_project()

    def new_project(self) -> str:
        name = f"prop-{self.run}-{len(self.model)}"
        r = self.client.post("/v1/projects", json={"name": name})
        assert r.status_code == 201, r.text
        self.model[r.json()["id"]] = Project(r.json()["id"], name)
        return str(r.json()["id"])

    @rule(project_id=projects, build_command=st.sampled_from([None, "npm run build", "make"]),
          branch=st.sampled_from(["main", "release"]))
    def change_settings(self, project_id: str, build_command: str | None, branch: str) -> None:
        project = self.model[project_id]
        r = self.client.patch(f"/v1/projects/{project_id}",
                              json={"build_command": build_command, "branch": branch})
        if self.expect(r, project, 200):
            project.build_command, project.branch = build_command, branch

    @rule(project_id=projects, names=st.sets(st.sampled_from(VARIABLES)))
    def set_env(self, project_id: str, names: set[str]) -> None:
        project = self.model[project_id]
        r = self.client.put(f"/v1/projects/{project_id}/env",
                            json={"vars": dict.fromkeys(names, "value")})
        if self.expect(r, project, 200):
            project.env = set(names)

    @rule(project_id=projects, name=st.sampled_from(VARIABLES))
    def unset_env(self, project_id: str, name: str) -> None:
        """Removing a variable that is not set is refused and changes nothing."""
        project = self.model[project_id]
        r = self.client.patch(f"/v1/projects/{project_id}/env", json={"unset": [name]})
        if self.expect(r, project, 200 if name in project.env else 404):
            project.env.discard(name)

    def hostname(self, label: str, verified: bool) -> str:
        return f"{label}.{self.run}.{'verified.test' if verified else 'example.com'}"

    @rule(project_id=projects, label=st.sampled_from(["www", "shop"]), verified=st.booleans())
    def add_domain(self, project_id: str, label: str, verified: bool) -> None:
        """A hostname under the verified-domains setting is verified at once; one that
        a project holds is refused."""
        project, host = self.model[project_id], self.hostname(label, verified)
        r = self.client.post(f"/v1/projects/{project_id}/domains", json={"hostname": host})
        if self.expect(r, project, 409 if host in self.claims else 201):
            project.domains[host] = verified
            self.claims[host] = project_id

    @rule(project_id=projects, label=st.sampled_from(["www", "shop"]), verified=st.booleans())
    def remove_domain(self, project_id: str, label: str, verified: bool) -> None:
        project, host = self.model[project_id], self.hostname(label, verified)
        r = self.client.delete(f"/v1/projects/{project_id}/domains/{host}")
        if self.expect(r, project, 204 if host in project.domains else 404):
            del project.domains[host], self.claims[host]

    @rule(project_id=projects)
    def deploy(self, project_id: str) -> None:
        """Deploy the page, served as it is: READY within seconds, and production at
        once while automatic promotion is on."""
        project = self.model[project_id]
        r = self.client.post(f"/v1/projects/{project_id}/uploads", json={"files": FILES})
        if not self.expect(r, project, 201):
            return
        for grant in r.json()["missing"]:
            put = httpx.put(grant["url"], content=PAGE, headers=grant["headers"], timeout=30)
            assert put.is_success, put.text
        r = self.client.post(f"/v1/projects/{project_id}/uploads/{r.json()['upload_id']}"
                             "/deploy", json={"build": False})
        assert r.status_code == 202, r.text
        deployment_id = str(r.json()["id"])
        project.deployments.append(deployment_id)
        assert self.platform.wait_status(deployment_id, {"READY", "FAILED"}, timeout=60
                                         )["status"] == "READY"
        if project.auto:
            project.move(deployment_id)
        # READY is appended by the worker: wait for the routes projection to apply it.
        eventually(lambda: self.production(project_id) == project.production, timeout=20,
                   what=f"{project_id}'s production is {project.production}")

    def production(self, project_id: str) -> Any:
        return self.client.get(f"/v1/projects/{project_id}").json()["production_deployment_id"]

    @rule(project_id=projects, pick=st.integers(0, 7))
    def promote(self, project_id: str, pick: int) -> None:
        project = self.model[project_id]
        chosen = project.deployments[pick % len(project.deployments)] if project.deployments \
            else new_id()
        r = self.client.post(f"/v1/projects/{project_id}/promote",
                             json={"deployment_id": chosen})
        if self.expect(r, project, 200 if project.deployments else 404):
            assert r.json()["production_deployment_id"] == chosen
            project.auto = True
            project.move(chosen)

    @rule(project_id=projects)
    def rollback(self, project_id: str) -> None:
        project = self.model[project_id]
        earlier = project.earlier()
        r = self.client.post(f"/v1/projects/{project_id}/rollback")
        if self.expect(r, project, 200 if earlier else 409):
            assert r.json()["production_deployment_id"] == earlier[0]
            project.auto = False
            project.move(earlier[0])

    @rule(project_id=projects)
    def delete(self, project_id: str) -> None:
        project = self.model[project_id]
        r = self.client.delete(f"/v1/projects/{project_id}")
        if self.expect(r, project, 202):
            project.deleted = True
            self.claims = {h: p for h, p in self.claims.items() if p != project_id}

    @invariant()
    def read_models_agree_with_the_model(self) -> None:
        for project_id, project in self.model.items():
            path = f"/v1/projects/{project_id}"
            answers = [self.client.get(path + suffix)
                       for suffix in ("", "/domains", "/env", "/deployments")]
            if project.deleted:
                assert [a.status_code for a in answers] == [404] * 4
                continue
            shown, domains, env, deployments = (a.json() for a in answers)
            assert {k: shown[k] for k in ("name", "branch", "build_command",
                                           "production_deployment_id", "auto_promotion")} == {
                "name": project.name, "branch": project.branch,
                "build_command": project.build_command,
                "production_deployment_id": project.production, "auto_promotion": project.auto}
            assert {d["hostname"]: d["verified"] for d in domains} == project.domains
            assert set(env["vars"]) == project.env
            assert [(d["id"], d["status"]) for d in deployments] == [
                (d, "READY") for d in reversed(project.deployments)]


def run_machine(platform: Platform, examples: int, steps: int) -> None:
    class OnThePlatform(ApiMachine):
        def __init__(self) -> None:
            super().__init__(platform)

    run_state_machine_as_test(OnThePlatform, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=list(HealthCheck)))


def test_the_read_models_follow_any_sequence_of_commands(platform: Platform) -> None:
    """For any sequence of commands through the API: after each, GET of the project,
    its domains, its build variables and its deployments answer what the model says
    (404 once deleted); a refused command (a hostname held, an unknown variable, no
    earlier production, a deleted project) changes nothing; a deployment's READY makes
    it production while automatic promotion is on, a rollback pauses that and moves
    production to the newest earlier one, a promote resumes it."""
    run_machine(platform, examples=3, steps=10)


@pytest.mark.slow_properties
def test_the_read_models_follow_many_more_sequences(platform: Platform) -> None:
    """The property above over 25 sequences of up to 25 steps (``-m slow_properties``)."""
    run_machine(platform, examples=25, steps=25)
