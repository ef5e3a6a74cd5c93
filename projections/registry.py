"""Which read models a replay (``projections.replay``) can rebuild: each replayable
projection of ``buildspace.events`` with its tables and how it applies one event, and
every other read-side table with why it is not replayed.

Every table the read side creates (``projections.tables``) is named here exactly once:
``tests/unit/test_replay_registry.py`` fails for one that is not.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.settings import Settings
from projections import audit, control_plane, hooks, outgoing, routes
from schemas.audit import Actor
from schemas.envelope import Envelope

ApplyBy = Callable[[asyncpg.Connection, Envelope, Actor], Awaitable[Any]]


@dataclass(frozen=True)
class Replayable:
    name: str  # the projection's name in projection_positions
    tables: tuple[str, ...]
    applier: Callable[[Settings], ApplyBy]  # what a replay applies each event with


def by_actor(apply: Callable[[asyncpg.Connection, Envelope], Awaitable[Any]]) -> ApplyBy:
    async def apply_by(conn: asyncpg.Connection, event: Envelope, by: Actor) -> Any:
        return await apply(conn, event)
    return apply_by


REPLAYABLE: dict[str, Replayable] = {p.name: p for p in (
    Replayable(control_plane.NAME, ("projects", "deployments", "domains"),
               lambda settings: control_plane.apply),
    # The route changes it returns are dropped: the live projection published them to
    # the compacted routes topic already, and the edge must not be sent back in time.
    Replayable(routes.NAME, ("routes", "route_projects", "route_deployments",
                             "route_production_history", "route_domains"),
               lambda settings: by_actor(routes.apply)),
    Replayable(hooks.NAME, ("deploy_hooks", "webhook_secrets"),
               lambda settings: by_actor(hooks.apply)),
    Replayable(outgoing.NAME, ("outgoing_webhooks", "outgoing_deployments",
                               "outgoing_projects"),
               lambda settings: by_actor(outgoing.applier(settings, deliveries=False))),
    Replayable(audit.NAME, ("audit", "audit_projects"), lambda settings: audit.apply),
)}

NOT_REPLAYED: dict[str, str] = {
    "projection_positions": "each projection's tracking: a replay ends at the live "
                            "positions, so they stay as they are",
    "projected_events": "the events each projection applied: a replay brings its own",
    "build_queue": "the scheduler's queue (streams.scheduler): projecting it again would "
                   "launch builds again",
    "build_env": "the scheduler's build variables, kept with its queue",
    "webhook_outbox": "the webhook sender's work and delivery state: a replay must not "
                      "send webhooks again",
    "webhook_attempts": "written by the webhook sender, not by a projection",
    "dead_letters": "projected from the .dlq topics, not from buildspace.events",
}

CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)


def created_tables(scripts: Iterable[str]) -> list[str]:
    """The tables ``scripts`` create, in order."""
    return [name for script in scripts for name in CREATED.findall(script)]


def chosen(name: str | None) -> list[Replayable]:
    """The projection named, or every replayable one."""
    return list(REPLAYABLE.values()) if name is None else [REPLAYABLE[name]]
