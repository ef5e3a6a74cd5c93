"""Properties of deciding (issue 17): random sequences of commands and builder reports
for two projects, decided with the pure ``decide`` functions and folded with ``evolve``
as ``commands.service`` does, against a small reference model of the read-model facts
some commands are decided on (a deployment's status, the production history).

The model follows the events with the route projection's rules
(``projections/routes.py``): only a deployment's first final event counts; a READY
production-target deployment becomes production when auto-promotion is on and it is
newer than the current one; a promotion turns auto-promotion on, a rollback pauses it.
Promotions and rollbacks are taken at their word (the projection's own ``ready``
guard is not modelled), so a promotion deciding should have refused shows up here.

    .venv/bin/pytest tests/unit/test_properties_decide.py
    .venv/bin/pytest tests/unit/test_properties_decide.py -m slow_properties  # longer run
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.deployments.decide import cancel_deployment, promote, request_deployment, rollback
from commands.domains.decide import add_domain, remove_domain
from commands.lifecycle.decide import delete_project
from commands.projects.decide import (
    ProjectState,
    create_project,
    evolve,
    require,
    set_env,
    update_project,
)
from infra.actors import SYSTEM
from schemas.commands import (
    AddDomain,
    CreateProject,
    RemoveDomain,
    RequestDeployment,
    UpdateProject,
)
from schemas.envelope import Envelope, Meta
from schemas.errors import BuildspaceError
from schemas.events import (
    BuildStarted,
    DeploymentCanceled,
    DeploymentFailed,
    DeploymentPromoted,
    DeploymentReady,
    DeploymentRequested,
    ProductionRolledBack,
    parse_event,
)
from schemas.lifecycle import ProjectDeleted

META = Meta(correlation_id="c")
PROJECTS = ("p1", "p2")
HOSTS = ("a.example.com", "b.example.com", "www.example.org")
UNFINISHED = ("QUEUED", "BUILDING")
INDEX_MAX = 4


@dataclass
class Deployment:
    project_id: str
    number: int
    target: str
    status: str = "QUEUED"


@dataclass
class World:
    """The write-side states, the streams, and the reference read model."""

    states: dict[str, ProjectState] = field(
        default_factory=lambda: {p: ProjectState(project_id=p) for p in PROJECTS})
    streams: dict[str, list[Envelope]] = field(default_factory=lambda: {p: [] for p in PROJECTS})
    deployments: dict[str, Deployment] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    auto: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(PROJECTS, True))
    production: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(PROJECTS))
    history: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PROJECTS})
    claims: dict[str, str] = field(default_factory=dict)  # hostname -> project

    def append(self, project_id: str, events: list[Envelope]) -> None:
        for event in events:
            self.states[project_id] = evolve(self.states[project_id], event)
            self.streams[project_id].append(event)
            self.follow(project_id, event)

    def follow(self, p: str, e: Envelope) -> None:
        if isinstance(e, DeploymentRequested):
            self.deployments[e.deployment_id] = Deployment(p, e.number, e.target)
            self.order.append(e.deployment_id)
        elif isinstance(e, BuildStarted) and self.deployments[e.deployment_id].status == "QUEUED":
            self.deployments[e.deployment_id].status = "BUILDING"
        elif isinstance(e, DeploymentReady | DeploymentFailed | DeploymentCanceled):
            self.finish(p, e)
        elif isinstance(e, DeploymentPromoted | ProductionRolledBack):
            self.auto[p] = isinstance(e, DeploymentPromoted)
            if self.production[p] != e.deployment_id:
                self.move(p, e.deployment_id)
        elif isinstance(e, ProjectDeleted):
            self.production[p] = None
            self.claims = {h: q for h, q in self.claims.items() if q != p}

    def finish(self, p: str, e: DeploymentReady | DeploymentFailed | DeploymentCanceled) -> None:
        d = self.deployments[e.deployment_id]
        if d.status not in UNFINISHED:
            return  # the first final event wins
        d.status = {DeploymentReady: "READY", DeploymentFailed: "FAILED"}.get(
            type(e), "CANCELED")
        current = self.production[p]
        if (d.status == "READY" and d.target == "production" and self.auto[p]
                and not self.states[p].deleted
                and (current is None or self.deployments[current].number < d.number)):
            self.move(p, e.deployment_id)

    def move(self, p: str, deployment_id: str) -> None:
        self.production[p] = deployment_id
        self.history[p].append(deployment_id)

    def pick(self, index: int) -> str | None:
        return self.order[-1 - index % len(self.order)] if self.order else None

    def pick_of(self, project_id: str, index: int) -> str | None:
        """A deployment of the project, counted from its newest; the last index picks
        the newest of any project instead (the other's, often)."""
        own = [d for d in self.order if self.deployments[d].project_id == project_id]
        if index == INDEX_MAX or not own:
            return self.pick(0)
        return own[-1 - index % len(own)]

    def earlier(self, p: str, wanted: str | None) -> list[str]:
        """``CommandService.rollback``'s query over the production history."""
        current = self.production[p]
        ready = {d for d in self.history[p]
                 if self.deployments[d].status == "READY" and d != current}
        newest_first = sorted(ready, key=lambda d: -self.deployments[d].number)
        number = None if current is None else self.deployments[current].number
        return [d for d in newest_first if wanted is not None or number is None
                or self.deployments[d].number < number]


def decide_one(world: World, cmd: tuple[Any, ...]) -> tuple[str, list[Envelope]] | None:
    """The stream and events of ``cmd``, as the service decides it; None when the
    service would never ask (a report about no deployment, a fresh id recreated)."""
    kind, *args = cmd
    handler = HANDLERS[kind]
    return handler(world, *args)


def _create(world: World, p: str, git: bool) -> tuple[str, list[Envelope]] | None:
    if world.states[p].deleted:
        return None  # the service creates every project under a fresh id
    url = "https://github.com/acme/site.git" if git else None
    return p, create_project(world.states[p], CreateProject(name=f"site {p}", git_url=url), META)


def _deploy(world: World, p: str, ref: str | None) -> tuple[str, list[Envelope]]:
    state = world.states[p]
    cmd = RequestDeployment(project_id=p, ref=ref)
    deployment_id = f"{p}-d{state.deployments + 1}"
    return p, request_deployment(state, cmd, META, deployment_id, requested_by=SYSTEM)


def _report(kind: str) -> Callable[[World, int], tuple[str, list[Envelope]] | None]:
    """A builder's report on a deployment: the builder knows nothing of cancels."""
    def report(world: World, index: int) -> tuple[str, list[Envelope]] | None:
        d = world.pick(index)
        if d is None:
            return None
        p = world.deployments[d].project_id
        common: dict[str, Any] = {"stream_id": p, "project_id": p, "deployment_id": d}
        if kind == "start":
            return p, [BuildStarted(commit_sha="c" * 40, runner="local", **common)]
        if kind == "ready":
            return p, [DeploymentReady(commit_sha="c" * 40, file_count=1, total_bytes=1,
                                       uploaded_blobs=1, install_ms=0, build_ms=0, **common)]
        return p, [DeploymentFailed(reason="build failed", step="build", **common)]
    return report


def _cancel(world: World, index: int) -> tuple[str, list[Envelope]] | None:
    d = world.pick(index)
    if d is None:
        return None
    dep = world.deployments[d]
    return dep.project_id, cancel_deployment(dep.project_id, d, dep.status, META)


def _promote(world: World, p: str, index: int) -> tuple[str, list[Envelope]]:
    d = world.pick_of(p, index) or "unknown"
    dep = world.deployments.get(d)
    status = dep.status if dep is not None and dep.project_id == p else None
    return p, promote(world.states[p], d, status, META)


def _rollback(world: World, p: str, index: int | None) -> tuple[str, list[Envelope]]:
    wanted = None if index is None else world.pick_of(p, index)
    earlier = world.earlier(p, wanted)
    return p, rollback(world.states[p], world.production[p], earlier, wanted, META)


def _add_domain(world: World, p: str, host: str, verified: bool
                ) -> tuple[str, list[Envelope]] | None:
    require(world.states[p], p)  # as the service does, before it claims the hostname
    if world.claims.get(host, p) != p:
        return None  # the service refuses a hostname another project holds
    events = add_domain(world.states[p], AddDomain(project_id=p, hostname=host), "t",
                        verified, META)
    world.claims[host] = p
    return p, events


def _remove_domain(world: World, p: str, host: str) -> tuple[str, list[Envelope]]:
    events = remove_domain(world.states[p], RemoveDomain(project_id=p, hostname=host), META)
    world.claims.pop(host, None)
    return p, events


def _update(world: World, p: str, branch: str) -> tuple[str, list[Envelope]]:
    return p, update_project(world.states[p], UpdateProject(project_id=p, branch=branch), META)


def _env(world: World, p: str) -> tuple[str, list[Envelope]]:
    return p, set_env(world.states[p], ["API_URL"], "ciphertext", META)


def _delete(world: World, p: str) -> tuple[str, list[Envelope]]:
    unfinished = sorted((d for d, dep in world.deployments.items()
                         if dep.project_id == p and dep.status in UNFINISHED),
                        key=lambda d: world.deployments[d].number)
    return p, delete_project(world.states[p], unfinished, META)


HANDLERS: dict[str, Callable[..., tuple[str, list[Envelope]] | None]] = {
    "create": _create, "deploy": _deploy, "start": _report("start"),
    "ready": _report("ready"), "fail": _report("fail"), "cancel": _cancel,
    "promote": _promote, "rollback": _rollback, "add_domain": _add_domain,
    "remove_domain": _remove_domain, "update": _update, "env": _env, "delete": _delete,
}

project = st.sampled_from(PROJECTS)
index = st.integers(0, INDEX_MAX)  # counted from the newest deployment
ARGS: dict[str, tuple[st.SearchStrategy[Any], ...]] = {
    "create": (project, st.booleans()),
    "deploy": (project, st.sampled_from([None, None, "main", "dev", "a" * 40])),
    "start": (index,), "ready": (index,), "fail": (index,), "cancel": (index,),
    "promote": (project, index),
    "rollback": (project, st.none() | st.none() | index),
    "add_domain": (project, st.sampled_from(HOSTS), st.booleans()),
    "remove_domain": (project, st.sampled_from(HOSTS)),
    "update": (project, st.sampled_from(["main", "dev"])),
    "env": (project,), "delete": (project,),
}
# How often each comes up: mostly deployments and what happens to them; deleting
# (which ends a project's story) seldom.
WEIGHTS = {"deploy": 12, "ready": 12, "promote": 6, "rollback": 6, "start": 2, "fail": 2,
           "create": 2, "delete": 1}
command = st.sampled_from([k for k in ARGS for _ in range(WEIGHTS.get(k, 3))]).flatmap(
    lambda kind: st.tuples(st.just(kind), *ARGS[kind]))
commands = st.lists(command, min_size=10, max_size=60)
# Every sequence starts from two projects that can deploy (creating again conflicts).
START: list[tuple[Any, ...]] = [("create", p, True) for p in PROJECTS]


def deleted_target(world: World, cmd: tuple[Any, ...]) -> bool:
    """Whether ``cmd`` is a user's command on a project already deleted."""
    kind, *args = cmd
    if kind in ("start", "ready", "fail", "create"):
        return False  # a builder's report; a project is created under a fresh id
    if kind == "cancel":
        d = world.pick(args[0])
        return d is not None and world.states[world.deployments[d].project_id].deleted
    return world.states[args[0]].deleted


def check_production(world: World) -> None:
    for p in PROJECTS:
        current = world.production[p]
        if current is not None:
            dep = world.deployments[current]
            assert dep.project_id == p, f"{p}'s production {current} is another project's"
            assert dep.status == "READY", f"{p}'s production {current} is {dep.status}"
        for d in world.history[p]:
            assert world.deployments[d].status != "FAILED", f"failed {d} became production"


def check_replay(world: World) -> None:
    """Each stream, through JSON and back, folds to the state the service kept."""
    for p in PROJECTS:
        replayed = ProjectState(project_id=p)
        for event in world.streams[p]:
            replayed = evolve(replayed, parse_event(orjson.dumps(event.model_dump(mode="json"))))
        state = world.states[p]
        assert replayed == state
        requested = [e for e in world.streams[p] if isinstance(e, DeploymentRequested)]
        assert state.deployments == len(requested)
        assert set(state.domains) == {h for h, q in world.claims.items() if q == p}


def run(cmds: list[tuple[Any, ...]]) -> None:
    world = World()
    for cmd in START + cmds:
        deleted = deleted_target(world, cmd)
        try:
            decided = decide_one(world, cmd)
        except BuildspaceError:
            continue  # refused: nothing appended
        assert not deleted, f"a deleted project accepted {cmd}"
        if decided is not None:
            world.append(*decided)
        check_production(world)
    check_replay(world)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_production_and_deletion_hold_for_any_sequence_of_commands(
        cmds: list[tuple[Any, ...]]) -> None:
    """For any sequence of commands and builder reports: each project has at most one
    production deployment, and it is a READY deployment of that project; a FAILED
    deployment never becomes production; a deleted project accepts no command (deciding
    raises, so nothing is appended); each stream, serialized and replayed through
    ``evolve`` from the empty state, gives the state the service kept, and that state
    counts the deployments requested and holds the domains added and not removed."""
    run(cmds)


@pytest.mark.slow_properties
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_production_and_deletion_hold_for_many_more_sequences(
        cmds: list[tuple[Any, ...]]) -> None:
    """The same properties as above, over 3000 sequences (``-m slow_properties``)."""
    run(cmds)
