"""The read models' tables, in the order they are created (``infra.compose.migrate``)."""

from __future__ import annotations

from projections.audit import SCHEMA as AUDIT
from projections.dead_letters import SCHEMA as DEAD_LETTERS
from projections.hooks import SCHEMA as HOOKS
from projections.outgoing import SCHEMA as OUTGOING_WEBHOOKS
from projections.schema import SCHEMA as READ_MODELS

SCHEMAS = (READ_MODELS, HOOKS, OUTGOING_WEBHOOKS, AUDIT, DEAD_LETTERS)
