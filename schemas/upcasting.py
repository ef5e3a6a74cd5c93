"""Upcasters: old event shapes read as the current one. Named ``upcast_<type>_vN_vM``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# (type, from_version) -> upcaster to from_version + 1. Empty while every event is v1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        return data
    while (key := (data.get("type"), data.get("schema_version", 1))) in UPCASTERS:
        data = UPCASTERS[key](data)  # type: ignore[index]
    return data
