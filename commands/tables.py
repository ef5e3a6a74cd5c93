"""The write side's tables, in the order they are created (``infra.compose.migrate``)."""

from __future__ import annotations

from commands.hook_store import SCHEMA as HOOKS
from commands.lifecycle_store import SCHEMA as LIFECYCLE
from commands.store import SCHEMA as STATE

SCHEMAS = (STATE, HOOKS, LIFECYCLE)
