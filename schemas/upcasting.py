"""Upcasters: old event shapes read as the current one. Named ``upcast_<type>_vN_vM``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.failures import failure_step

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]



def upcast_DeploymentFailed_v1_v2(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    """v1 had only the reason in words; v2 also names the step that failed."""
    reason = data.get("reason")
    step = failure_step(reason) if isinstance(reason, str) else None
    return {**data, "schema_version": 2, "step": step}


def upcast_ProjectCreated_v1_v2(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    """v1 came before teams: no team, so the instance owner's personal team."""
    return {**data, "schema_version": 2, "team_id": None}


def _settings_without_node_version(data: dict[str, Any], version: int) -> dict[str, Any]:
    """Settings before ``node_version`` read the Node.js version from the repository,
    which is what its absence (None) still means: only the version changes."""
    return {**data, "schema_version": version}


def upcast_ProjectCreated_v2_v3(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    return _settings_without_node_version(data, 3)


def upcast_ProjectSettingsChanged_v1_v2(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    return _settings_without_node_version(data, 2)


def upcast_DeploymentRequested_v1_v2(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    return _settings_without_node_version(data, 2)


def upcast_DeploymentRequested_v2_v3(data: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
    """Before v3 who asked travelled only in the record's ``actor`` header: readers that
    have the record fall back to it (``projections.control_plane``)."""
    return {**data, "schema_version": 3, "requested_by": None}


# (type, from_version) -> upcaster to from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("DeploymentFailed", 1): upcast_DeploymentFailed_v1_v2,
    ("ProjectCreated", 1): upcast_ProjectCreated_v1_v2,
    ("ProjectCreated", 2): upcast_ProjectCreated_v2_v3,
    ("ProjectSettingsChanged", 1): upcast_ProjectSettingsChanged_v1_v2,
    ("DeploymentRequested", 1): upcast_DeploymentRequested_v1_v2,
    ("DeploymentRequested", 2): upcast_DeploymentRequested_v2_v3,
}


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        return data
    while (key := (data.get("type"), data.get("schema_version", 1))) in UPCASTERS:
        data = UPCASTERS[key](data)  # type: ignore[index]
    return data
