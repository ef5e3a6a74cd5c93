"""The write side's tables, in the order they are created (``infra.compose.migrate``)."""

from __future__ import annotations

from commands.accounts.reset import SCHEMA as RESETS
from commands.accounts.sso import SCHEMA as SSO
from commands.accounts.store import SCHEMA as ACCOUNTS
from commands.accounts.totp import SCHEMA as TOTP
from commands.dead_letters.store import SCHEMA as REDRIVES
from commands.hooks.store import SCHEMA as HOOKS
from commands.lifecycle.store import SCHEMA as LIFECYCLE
from commands.projects.store import SCHEMA as STATE
from commands.teams.store import SCHEMA as TEAMS
from infra.idempotency import SCHEMA as IDEMPOTENCY
from infra.outbox import SCHEMA as OUTBOX

SCHEMAS = (OUTBOX, IDEMPOTENCY, STATE, HOOKS, LIFECYCLE, ACCOUNTS, TEAMS, RESETS, TOTP, SSO,
           REDRIVES)
