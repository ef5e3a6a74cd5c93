"""Handle the commands that delete a project and add or remove its outgoing webhooks:
validate against settings, decide, append through the command service, then update the
write-side state, all inside the caller's transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from commands.lifecycle import store as lifecycle_store
from commands.lifecycle.decide import add_webhook, delete_project, remove_webhook
from commands.projects import store
from commands.service import CommandService, Outcome
from schemas.envelope import Meta
from schemas.errors import Invalid
from schemas.outgoing import WebhookBody, address_problem

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class NewWebhook:
    outcome: Outcome
    secret: str


class ProjectLifecycle:
    def __init__(self, commands: CommandService) -> None:
        self.commands = commands
        self.settings = commands.settings

    async def delete_project(self, conn: asyncpg.Connection, project_id: str, meta: Meta
                             ) -> Outcome:
        """Cancel its unfinished deployments, delete it, release its names."""
        state = await store.load_for_update(conn, project_id)
        unfinished = await conn.fetch(
            "SELECT deployment_id FROM deployments WHERE project_id = $1 "
            "AND status IN ('QUEUED', 'BUILDING') ORDER BY number", project_id)
        events = delete_project(state, [r[0] for r in unfinished], meta)
        outcome = await self.commands._append(conn, state, events)
        await lifecycle_store.release_project(conn, project_id)
        return outcome

    def check_target(self, url: str) -> None:
        """Private and loopback targets only where the operator allows them."""
        problem = address_problem(urlsplit(url).hostname or "")
        if problem and not self.settings.webhook_allow_private_targets:
            raise Invalid(f"webhooks cannot target the platform's network: {problem}",
                          field="url")

    async def add_webhook(self, conn: asyncpg.Connection, project_id: str, body: WebhookBody,
                          webhook_id: str, meta: Meta) -> NewWebhook:
        self.check_target(body.url)
        state = await store.load_for_update(conn, project_id)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        ciphertext = self.commands.cipher.encrypt({"secret": secret})
        existing = await lifecycle_store.webhook_count(conn, project_id)
        events = add_webhook(state, webhook_id, body.url, body.event_types(), ciphertext,
                             existing, meta)
        outcome = await self.commands._append(conn, state, events)
        await lifecycle_store.add_webhook(conn, webhook_id, project_id)
        return NewWebhook(outcome, secret)

    async def remove_webhook(self, conn: asyncpg.Connection, project_id: str,
                             webhook_id: str, meta: Meta) -> Outcome:
        state = await store.load_for_update(conn, project_id)
        exists = await lifecycle_store.remove_webhook(conn, webhook_id, project_id)
        return await self.commands._append(
            conn, state, remove_webhook(state, webhook_id, exists, meta))
