"""Deciding for webhooks and deploy hooks, pure: secrets and tokens are made (and
encrypted or hashed) by the caller, and the rate limit is a token bucket computed
from the hook's stored bucket and the clock it is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from commands.projects.decide import ProjectState, require
from schemas.envelope import Envelope, Meta
from schemas.errors import NotFound
from schemas.webhooks import DeployHookCreated, DeployHookRevoked, WebhookSecretSet


def set_webhook_secret(state: ProjectState, ciphertext: str, meta: Meta) -> list[Envelope]:
    require(state, state.project_id)
    return [WebhookSecretSet(
        stream_id=state.project_id, project_id=state.project_id, ciphertext=ciphertext,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


def create_deploy_hook(state: ProjectState, hook_id: str, name: str, branch: str | None,
                       token_sha256: str, meta: Meta) -> list[Envelope]:
    require(state, state.project_id)
    return [DeployHookCreated(
        stream_id=state.project_id, project_id=state.project_id, hook_id=hook_id, name=name,
        branch=branch, token_sha256=token_sha256, correlation_id=meta.correlation_id,
        causation_id=meta.causation_id)]


def revoke_deploy_hook(state: ProjectState, hook_id: str, exists: bool, meta: Meta
                       ) -> list[Envelope]:
    require(state, state.project_id)
    if not exists:
        raise NotFound(f"deploy hook {hook_id} not found", field="hook_id")
    return [DeployHookRevoked(
        stream_id=state.project_id, project_id=state.project_id, hook_id=hook_id,
        correlation_id=meta.correlation_id, causation_id=meta.causation_id)]


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``tokens`` available at time ``at`` (seconds)."""

    tokens: float
    at: float


def take(bucket: Bucket, now: float, every: float, burst: int) -> tuple[Bucket, float]:
    """Take one token: (the bucket after, 0) or (the bucket unchanged, seconds to wait).
    A token comes back every ``every`` seconds, up to ``burst``."""
    elapsed = max(0.0, now - bucket.at)
    tokens = min(float(burst), bucket.tokens + elapsed / every)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), 0.0
    return bucket, max(1.0, math.ceil((1.0 - tokens) * every))
