"""The write side's rules, without any service."""

import pytest

from commands.deployments.decide import decide
from commands.projects.decide import ProjectState, evolve
from infra.actors import SYSTEM
from schemas.audit import Actor
from schemas.commands import CreateProject, RequestDeployment
from schemas.envelope import Meta
from schemas.errors import Conflict, NotFound
from schemas.events import DeploymentRequested, ProjectCreated

META = Meta(correlation_id="c1")


def created_state() -> ProjectState:
    state = ProjectState(project_id="p1")
    cmd = CreateProject(name="My Site", git_url="https://github.com/acme/site.git",
                        build_command="npm run build:prod")
    for event in decide(state, cmd, META):
        state = evolve(state, event)
    return state


def test_create_project_derives_a_dns_safe_subdomain():
    [event] = decide(ProjectState(project_id="p1"),
                     CreateProject(name="My Site", git_url="https://github.com/a/b"), META)
    assert isinstance(event, ProjectCreated)
    assert event.subdomain == "my-site"
    assert event.stream_id == "p1" and event.correlation_id == "c1"


def test_creating_an_existing_project_conflicts():
    with pytest.raises(Conflict):
        decide(created_state(), CreateProject(name="x", git_url="https://github.com/a/b"), META)


def test_deployments_are_numbered_and_carry_the_build_spec():
    state = created_state()
    numbers = []
    for ref in (None, "feature/x"):
        [event] = decide(state, RequestDeployment(project_id="p1", ref=ref), META)
        assert isinstance(event, DeploymentRequested)
        state = evolve(state, event)
        numbers.append(event.number)
        assert event.spec.git_url == "https://github.com/acme/site.git"
        assert event.spec.settings.build_command == "npm run build:prod"
        assert event.spec.ref == (ref or "main")
    assert numbers == [1, 2]


def test_a_deployment_names_who_asked_for_it():
    """The requester travels in the event (v3), for consumers without the record."""
    user = Actor(kind="user", user_id="u1", ip="203.0.113.7")
    [event] = decide(created_state(), RequestDeployment(project_id="p1"), META, user)
    assert isinstance(event, DeploymentRequested) and event.requested_by == user
    [unnamed] = decide(created_state(), RequestDeployment(project_id="p1"), META)
    assert isinstance(unnamed, DeploymentRequested) and unnamed.requested_by == SYSTEM


def test_deploying_an_unknown_project_is_not_found():
    with pytest.raises(NotFound):
        decide(ProjectState(project_id="nope"), RequestDeployment(project_id="nope"), META)
