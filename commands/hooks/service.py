"""Deploy from outside: Git push webhooks (GitHub, GitLab) and deploy hook URLs.

A delivery is authenticated before anything in it is trusted: the GitHub signature
(HMAC-SHA256 of the raw body) or the GitLab token is compared in constant time with
the secret of each project deploying the payload's repository. Each project's
deployment is appended in the same transaction that records the delivery, so a
redelivered (or replayed) delivery deploys nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from cryptography.fernet import InvalidToken

from commands.deps import WriteSide, settled
from commands.hooks import store as hook_store
from commands.hooks.decide import (
    Bucket,
    create_deploy_hook,
    revoke_deploy_hook,
    set_webhook_secret,
    take,
)
from commands.projects import store
from commands.service import Outcome
from infra import actors
from schemas.audit import Actor
from schemas.commands import RequestDeployment
from schemas.envelope import Meta, new_id
from schemas.errors import Malformed, NotFound, RateLimited, Unauthorized
from schemas.events import DeploymentRequested
from schemas.routes import deployment_label
from schemas.webhooks import (
    Delivered,
    DeployHookBody,
    Push,
    WebhookOut,
    github_repo_keys,
    gitlab_repo_keys,
    read_push,
    repo_key,
)

SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")






REFUSED = "no project accepts this delivery: check the webhook's secret"


def github_signed(secret: str, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


def gitlab_signed(secret: str, token: str) -> bool:
    return hmac.compare_digest(secret.encode(), token.encode("latin-1", "replace"))


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def delivery_keys(provider: str, delivery_id: str | None, body: bytes) -> list[str]:
    """The delivery's id, and its body's digest: a replay under a new id is a repeat too."""
    keys = [f"body:{hashlib.sha256(body).hexdigest()}"]
    if delivery_id and DELIVERY_ID.fullmatch(delivery_id):
        keys.insert(0, f"{provider}:{delivery_id}")
    return keys


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Webhooks:
    """The write side of webhooks and deploy hooks, over the platform's command service."""

    def __init__(self, platform: WriteSide) -> None:
        self.platform = platform
        self.commands = platform.commands
        self.settings = platform.settings

    def _secret(self, ciphertext: str) -> str | None:
        try:
            return self.commands.cipher.decrypt(ciphertext).get("secret")
        except (InvalidToken, ValueError):
            return None  # encrypted under another key: it verifies nothing

    async def set_secret(self, conn: Any, project_id: str, secret: str, meta: Meta
                         ) -> Outcome:
        """Set or rotate the project's secret, in ``conn``'s transaction."""
        state = await store.load_for_update(conn, project_id)
        ciphertext = self.commands.cipher.encrypt({"secret": secret})
        outcome = await self.commands._append(
            conn, state, set_webhook_secret(state, ciphertext, meta))
        await hook_store.save_secret(conn, project_id, repo_key(state.git_url) or "",
                                     ciphertext)
        return outcome

    async def create_hook(self, conn: Any, project_id: str, body: DeployHookBody,
                          hook_id: str, token: str, meta: Meta) -> Outcome:
        state = await store.load_for_update(conn, project_id)
        digest = token_digest(token)
        events = create_deploy_hook(state, hook_id, body.name, body.branch, digest, meta)
        outcome = await self.commands._append(conn, state, events)
        full = Bucket(float(self.settings.deploy_hook_burst), time.time())
        await hook_store.add_hook(conn, hook_id, project_id, digest, body.branch, full)
        return outcome

    async def revoke_hook(self, conn: Any, project_id: str, hook_id: str, meta: Meta
                          ) -> Outcome:
        state = await store.load_for_update(conn, project_id)
        exists = await hook_store.hook_exists(conn, project_id, hook_id)
        outcome = await self.commands._append(
            conn, state, revoke_deploy_hook(state, hook_id, exists, meta))
        await hook_store.remove_hook(conn, hook_id)
        return outcome

    async def verified(self, keys: set[str], project_id: str | None,
                       check: Callable[[str], bool]) -> list[tuple[str, bool]]:
        """(project id, whether it deploys the payload's repository) of each project
        whose secret ``check`` accepts; every candidate is checked, match or not."""
        async with self.platform.pool.acquire() as conn:
            found = await hook_store.secrets_for(conn, sorted(keys), project_id)
        accepted = []
        for candidate in found:
            secret = self._secret(candidate.ciphertext)
            if secret is not None and check(secret):
                accepted.append((candidate.project_id, candidate.repo_key in keys))
        return accepted

    @staticmethod
    def trusted(accepted: list[tuple[str, bool]], payload: Any) -> dict[str, Any]:
        """The payload, once a project's secret vouched for it."""
        if not accepted:
            raise Unauthorized(REFUSED)
        if not isinstance(payload, dict):
            raise Malformed("the body is not a JSON object")
        return payload

    async def github(self, body: bytes, headers: Mapping[str, str], project_id: str | None
                     ) -> tuple[int, WebhookOut]:
        match = SIGNATURE.fullmatch(headers.get("x-hub-signature-256", ""))
        if match is None:
            raise Unauthorized("X-Hub-Signature-256: sha256=<hex> is required")
        payload = parse_json(body)
        accepted = await self.verified(github_repo_keys(payload), project_id,
                                       lambda secret: github_signed(secret, body, match[1]))
        payload = self.trusted(accepted, payload)
        event = headers.get("x-github-event", "")
        if event == "ping":
            return 200, WebhookOut(reason="pong")
        if event != "push":
            return 202, WebhookOut(ignored=True, reason=f"{event[:50]!r} events deploy nothing")
        push = read_push(payload.get("ref"), payload.get("after"), payload.get("deleted") is True)
        return await self.deploy(accepted, push, delivery_keys(
            "github", headers.get("x-github-delivery"), body))

    async def gitlab(self, body: bytes, headers: Mapping[str, str], project_id: str | None
                     ) -> tuple[int, WebhookOut]:
        token = headers.get("x-gitlab-token", "")
        if not token:
            raise Unauthorized("X-Gitlab-Token is required")
        payload = parse_json(body)
        accepted = await self.verified(gitlab_repo_keys(payload), project_id,
                                       lambda secret: gitlab_signed(secret, token))
        payload = self.trusted(accepted, payload)
        event = headers.get("x-gitlab-event", "")
        if event != "Push Hook":
            return 202, WebhookOut(ignored=True, reason=f"{event[:50]!r} events deploy nothing")
        after = payload.get("checkout_sha") or payload.get("after")
        push = read_push(payload.get("ref"), after)
        delivery = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
        return await self.deploy(accepted, push, delivery_keys("gitlab", delivery, body))

    async def deploy(self, accepted: list[tuple[str, bool]], push: Push, keys: list[str]
                     ) -> tuple[int, WebhookOut]:
        if push.branch is None or push.sha is None:
            return 202, WebhookOut(ignored=True, reason=push.reason)
        projects = [project for project, same_repo in accepted if same_repo]
        if not projects:
            return 202, WebhookOut(ignored=True, reason="the payload's repository is not "
                                                        "the project's")
        delivered, duplicate = [], False
        for project in projects:
            try:
                done = await self._deploy_one(project, push, keys)
            except NotFound:
                continue  # deleted since its secret was set
            duplicate |= done is None
            delivered += [done] if done else []
        if delivered:
            return 202, WebhookOut(deployments=delivered)
        if duplicate:
            return 200, WebhookOut(duplicate=True, reason="already processed")
        return 202, WebhookOut(ignored=True, reason="the project no longer exists")

    async def _deploy_one(self, project_id: str, push: Push, keys: list[str]
                          ) -> Delivered | None:
        cmd = RequestDeployment(project_id=project_id, ref=push.sha, branch=push.branch)
        meta = Meta(correlation_id=new_id(), causation_id=keys[0])
        actors.act_as(Actor(kind="webhook", id=keys[0]))
        async with self.platform.pool.acquire() as conn, conn.transaction():
            if not await hook_store.record_delivery(conn, project_id, keys):
                return None
            outcome = await self.commands.request_deployment(conn, cmd, meta)
        await settled(self.platform, outcome)
        return self.delivered(outcome)

    def delivered(self, outcome: Outcome) -> Delivered:
        requested = next(e for e in outcome.events if isinstance(e, DeploymentRequested))
        label = deployment_label(requested.deployment_id, outcome.state.subdomain)
        return Delivered(project_id=requested.project_id,
                         deployment_id=requested.deployment_id, branch=requested.branch or "",
                         target=requested.target, url=self.settings.site_url(label))

    async def trigger(self, token: str) -> Outcome:
        """Deploy a deploy hook's project: one token of its bucket, or 429."""
        meta = Meta.new()
        async with self.platform.pool.acquire() as conn, conn.transaction():
            hook = await hook_store.hook_for_update(conn, token_digest(token))
            if hook is None:
                raise NotFound("no such deploy hook (revoked, or never created)")
            bucket, wait = take(hook.bucket, time.time(),
                                self.settings.deploy_hook_every_seconds,
                                self.settings.deploy_hook_burst)
            if wait:
                raise RateLimited(f"this deploy hook was called too often: retry in "
                                  f"{int(wait)} s", retry_after=int(wait))
            await hook_store.save_bucket(conn, hook.hook_id, bucket)
            actors.act_as(Actor(kind="deploy-hook", id=hook.hook_id))
            cmd = RequestDeployment(project_id=hook.project_id, ref=hook.branch,
                                    branch=hook.branch)
            outcome = await self.commands.request_deployment(conn, cmd, meta)
        await settled(self.platform, outcome)
        return outcome
