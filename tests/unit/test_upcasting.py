"""Old events in the log are read as the current version: ``DeploymentFailed`` v1
payloads recorded from the v1 model (``tests/fixtures/events``) come out as v2, with the
step that failed told from their reason, through every parse path; build settings
recorded before ``node_version`` come out without one; ``DeploymentRequested`` recorded
before v3 names no requester in its body, and the deployments read model falls back to
its record's actor header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projections.control_plane import requester
from schemas.audit import Actor
from schemas.builds import BuildSettings
from schemas.catalog import CATALOG
from schemas.catalog import version as current_version
from schemas.events import (
    DeploymentFailed,
    DeploymentRequested,
    ProjectCreated,
    ProjectSettingsChanged,
    parse_event,
)
from schemas.upcasting import UPCASTERS, upcast

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "events"
V1 = [json.loads(line) for line in
      (RECORDED / "DeploymentFailed.v1.jsonl").read_text().splitlines()]
STEPS = ["install", "build", "clone", "launch", "timeout", None, "publish", "internal"]


@pytest.mark.parametrize(("payload", "step"), list(zip(V1, STEPS, strict=True)),
                         ids=[p["reason"][:30] for p in V1])
def test_a_recorded_v1_failure_is_read_as_v2_with_its_step(payload, step):
    assert payload["schema_version"] == 1 and "step" not in payload
    event = parse_event(json.dumps(payload).encode())
    assert isinstance(event, DeploymentFailed)
    assert (event.schema_version, event.step) == (2, step)
    assert (event.event_id, event.reason, event.commit_sha, event.log_lines) == (
        payload["event_id"], payload["reason"], payload["commit_sha"], payload["log_lines"])


def test_the_v2_shape_is_the_catalogs_and_v1_stays_on_record():
    v2 = json.loads((CATALOG / "DeploymentFailed.v2.json").read_text())
    v1 = json.loads((CATALOG / "DeploymentFailed.v1.json").read_text())
    assert "step" in v2["properties"] and "step" not in v1["properties"]
    upcast_keys = set(upcast(dict(V1[0])))
    assert upcast_keys <= set(v2["properties"])


def test_a_current_event_is_left_alone_and_every_upcaster_reaches_the_current_version():
    current = DeploymentFailed(stream_id="p", project_id="p", deployment_id="d",
                               reason="build failed: x", step="build")
    assert parse_event(current.model_dump_json().encode()) == current
    for (kind, version), upcaster in UPCASTERS.items():
        assert upcaster({"type": kind, "schema_version": version,
                         "reason": ""})["schema_version"] == version + 1


def test_a_recorded_v1_project_is_read_as_the_current_version_of_the_instance_owners_team():
    """``ProjectCreated`` v1 (before teams) comes out with no team: the policy gives
    such projects to the instance owner's personal team."""
    recorded = (RECORDED / "ProjectCreated.v1.jsonl").read_text().splitlines()
    for line in recorded:
        payload = json.loads(line)
        assert payload["schema_version"] == 1 and "team_id" not in payload
        event = parse_event(line.encode())
        assert isinstance(event, ProjectCreated)
        assert (event.schema_version, event.team_id) == (3, None)
        assert (event.event_id, event.name, event.settings.model_dump()) == (
            payload["event_id"], payload["name"], {**payload["settings"], "node_version": None})


def _settings(event: object) -> BuildSettings:
    if isinstance(event, DeploymentRequested):
        return event.spec.settings
    assert isinstance(event, ProjectCreated | ProjectSettingsChanged)
    return event.settings


@pytest.mark.parametrize("recorded", ["ProjectCreated.v2", "ProjectSettingsChanged.v1",
                                      "DeploymentRequested.v1"])
def test_settings_recorded_before_node_version_still_read_it_from_the_repository(
        recorded: str):
    """Payloads recorded from the models before ``node_version`` parse as the current
    version, every setting kept, and ``node_version`` None: detect, as they did."""
    kind, recorded_version = recorded.split(".v")
    for line in (RECORDED / f"{recorded}.jsonl").read_text().splitlines():
        payload = json.loads(line)
        before = payload["spec"]["settings"] if "spec" in payload else payload["settings"]
        assert payload["schema_version"] == int(recorded_version)
        assert "node_version" not in before
        event = parse_event(line.encode())
        assert type(event).__name__ == kind
        assert event.schema_version == current_version(type(event)) > int(recorded_version)
        assert event.event_id == payload["event_id"]
        assert _settings(event).model_dump() == {**before, "node_version": None}


REQUESTED = [json.loads(line) for line in
             (RECORDED / "DeploymentRequested.v2.jsonl").read_text().splitlines()]
USER = Actor(kind="token", id="t1", user_id="u1", ip="203.0.113.7")


@pytest.mark.parametrize("payload", REQUESTED, ids=[p["deployment_id"] for p in REQUESTED])
def test_a_recorded_v2_request_is_read_as_v3_naming_no_requester(payload):
    """Every field of the recorded v2 payload comes out as it went in."""
    assert payload["schema_version"] == 2 and "requested_by" not in payload
    event = parse_event(json.dumps(payload).encode())
    assert isinstance(event, DeploymentRequested)
    assert (event.schema_version, event.requested_by) == (3, None)
    assert event.model_dump(mode="json") == {**payload, "schema_version": 3,
                                             "requested_by": None}


def test_recorded_v1_requests_go_through_v2_to_v3():
    for line in (RECORDED / "DeploymentRequested.v1.jsonl").read_text().splitlines():
        event = parse_event(line.encode())
        assert isinstance(event, DeploymentRequested)
        assert (event.schema_version, event.requested_by) == (3, None)


def test_a_v3_request_round_trips_with_its_requester_as_the_catalog_describes_it():
    event = parse_event(json.dumps({**REQUESTED[0], "schema_version": 3,
                                    "requested_by": USER.model_dump()}).encode())
    assert isinstance(event, DeploymentRequested) and event.requested_by == USER
    assert parse_event(event.model_dump_json().encode()) == event
    v3 = json.loads((CATALOG / "DeploymentRequested.v3.json").read_text())
    v2 = json.loads((CATALOG / "DeploymentRequested.v2.json").read_text())
    assert "requested_by" in v3["properties"] and "requested_by" not in v2["properties"]


def test_the_read_model_names_the_bodys_requester_else_the_records_header():
    header = Actor(kind="user", user_id="u-header")
    old = parse_event(json.dumps(REQUESTED[0]).encode())
    new = parse_event(json.dumps({**REQUESTED[0], "schema_version": 3,
                                  "requested_by": USER.model_dump()}).encode())
    assert isinstance(old, DeploymentRequested) and isinstance(new, DeploymentRequested)
    assert requester(old, header) == header
    assert requester(new, header) == USER
