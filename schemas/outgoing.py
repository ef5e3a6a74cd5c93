"""Outgoing webhooks: a project's subscriptions to its deployment lifecycle, their
events, their API models, and the pure rules for their URLs, payloads and signatures.

A webhook's signing secret travels only as ciphertext (the build variables' key);
a delivery's body is signed with HMAC-SHA256 and sent with ``X-Buildspace-*`` headers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.envelope import Envelope

WebhookEventType = Literal["deployment.created", "deployment.ready", "deployment.failed",
                           "deployment.promoted", "deployment.rolled_back"]
EVENT_TYPES: tuple[WebhookEventType, ...] = (
    "deployment.created", "deployment.ready", "deployment.failed", "deployment.promoted",
    "deployment.rolled_back")
DeliveryState = Literal["pending", "succeeded", "failed", "canceled"]


class WebhookAdded(Envelope):
    """The project sends the ``events`` named to ``url``, signed with a secret that
    travels only as ciphertext."""

    type: Literal["WebhookAdded"] = "WebhookAdded"
    project_id: str
    webhook_id: str
    url: str
    events: list[WebhookEventType]
    ciphertext: str


class WebhookRemoved(Envelope):
    """No more deliveries to the webhook; those still pending are canceled."""

    type: Literal["WebhookRemoved"] = "WebhookRemoved"
    project_id: str
    webhook_id: str


def check_webhook_url(value: str) -> str:
    """An absolute http(s) URL with a host, without credentials or a fragment."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials")
    if parts.fragment or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("must not have a fragment, spaces or control characters")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value


def address_problem(host: str) -> str | None:
    """Why ``host`` (a name or an IP literal) is not a public target, if it is not."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return f"{host} is a local name"
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return None  # a name: checked again against its addresses when sending
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        return f"{host} is a private, loopback or reserved address"
    return None


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL that receives "
                     "a JSON POST per event")
    events: list[WebhookEventType] | None = Field(
        default=None, min_length=1, description="default: every deployment event")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_webhook_url(value)

    def event_types(self) -> list[WebhookEventType]:
        wanted = set(self.events or EVENT_TYPES)
        return [t for t in EVENT_TYPES if t in wanted]


class WebhookOut(BaseModel):
    id: str
    project_id: str
    url: str
    events: list[WebhookEventType]
    secret: str = Field(description="masked; shown only when the webhook is created")
    created_at: datetime | None = None


class AttemptOut(BaseModel):
    attempt: int = Field(description="1 for the first try")
    at: datetime
    status_code: int | None = Field(description="the receiver's answer, if any")
    error: str | None = None
    duration_ms: int
    next_retry_at: datetime | None = Field(description="when the next attempt is due, if "
                                                       "one is")


class DeliveryOut(BaseModel):
    id: str = Field(description="X-Buildspace-Delivery: the same on every attempt")
    event_id: str
    type: WebhookEventType
    state: DeliveryState
    created_at: datetime
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None = None


def signature(secret: str, body: bytes) -> str:
    """``X-Buildspace-Signature-256``: ``sha256=`` and the HMAC of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed ``attempt`` (1, 2, …): base, 2 base, 4 base, … capped."""
    return float(min(cap, base * 2 ** min(attempt - 1, 62)))
