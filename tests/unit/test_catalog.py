"""The JSON Schema catalog (``schemas/catalog/``) matches the models: a model changed
without a new ``schema_version`` fails here, and so does a type missing from it."""

from __future__ import annotations

import json

import pytest

from schemas.catalog import CATALOG, catalog, models, version


@pytest.mark.parametrize("name", sorted(catalog()))
def test_each_types_current_version_is_in_the_catalog_as_it_is(name: str):
    stored = CATALOG / name
    assert stored.exists(), f"{name} is new: run .venv/bin/python -m schemas.catalog"
    assert stored.read_text() == catalog()[name], (
        f"{name} changed without a new schema_version: bump it, add an upcaster from the old "
        f"version (schemas/upcasting.py), then run .venv/bin/python -m schemas.catalog")


def test_the_catalog_covers_every_event_and_command_type():
    names = {m.__name__ for m in models()}
    assert {"ProjectCreated", "BuildPlanned", "DeploymentReady", "BuildLogAppended",
            "EdgeRequestsServed", "CreateProject", "CommandMessage"} <= names
    assert all(version(m) >= 1 for m in models())
    schema = json.loads((CATALOG / "BuildPlanned.v1.json").read_text())
    assert schema["properties"]["type"]["const"] == "BuildPlanned"
