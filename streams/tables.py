"""The worker's own tables (``infra.compose.migrate``)."""

from __future__ import annotations

from streams.artifact_gc import SCHEMA as ARTIFACT_COLLECTIONS

SCHEMAS = (ARTIFACT_COLLECTIONS,)
