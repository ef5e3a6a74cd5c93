"""Send outgoing webhooks from the outbox (``projections.outgoing``), in the worker role.

Each tick claims due deliveries with a lease (``FOR UPDATE SKIP LOCKED``: workers never
send the same delivery at once) up to the free capacity, and sends them in the
background: a JSON POST signed with the webhook's secret, at most
``webhook_timeout_seconds``. A 2xx answer succeeds; anything else is retried after
base, 2 base, 4 base, … seconds (capped) until ``webhook_max_attempts``, then failed.
Every attempt is logged. A worker stopped mid-send leaves the lease to expire, and the
delivery is sent again: receivers deduplicate by ``X-Buildspace-Delivery``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from cryptography.fernet import InvalidToken

from infra.secrets import EnvCipher
from infra.settings import Settings
from schemas.envelope import utcnow
from schemas.outgoing import address_problem, retry_delay, signature

log = logging.getLogger("buildspace.webhooks")
USER_AGENT = "Buildspace-Webhooks/1"

CLAIM_SQL = """
UPDATE webhook_outbox o SET lease_until = now() + make_interval(secs => $2)
FROM outgoing_webhooks w
WHERE w.webhook_id = o.webhook_id AND o.delivery_id IN (
    SELECT delivery_id FROM webhook_outbox WHERE state = 'pending'
    AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
    ORDER BY next_attempt_at, created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING o.delivery_id, o.type, o.body, o.attempts, w.url, w.ciphertext
"""


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, cipher: EnvCipher) -> None:
        self.settings = settings
        self.pool = pool
        self.cipher = cipher
        self._client: httpx.AsyncClient | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout_seconds, follow_redirects=False,
                headers={"User-Agent": USER_AGENT})
        return self._client

    async def tick(self) -> None:
        """Start sending the due deliveries this worker has room for."""
        room = self.settings.webhook_concurrency - len(self._inflight)
        if room <= 0:
            return
        lease = self.settings.webhook_timeout_seconds + 30.0
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(CLAIM_SQL, room, lease)
        for row in rows:
            task = asyncio.create_task(self.deliver(row), name=f"webhook {row[0]}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def deliver(self, row: asyncpg.Record) -> None:
        try:
            result = await self.send(row)
        except Exception as exc:  # noqa: BLE001 - a bug here must not stop the others
            log.exception("delivery %s", row["delivery_id"])
            result = Result(None, f"internal error: {type(exc).__name__}", 0)
        await self.record(row, result)

    def _secret(self, ciphertext: str) -> str | None:
        try:
            return self.cipher.decrypt(ciphertext).get("secret")
        except (InvalidToken, ValueError):
            return None

    async def send(self, row: asyncpg.Record) -> Result:
        secret = self._secret(row["ciphertext"])
        if secret is None:
            return Result(None, "the webhook's secret cannot be decrypted with this key", 0)
        problem = await self.target_problem(row["url"])
        if problem is not None:
            return Result(None, problem, 0)
        body = bytes(row["body"])
        headers = {"Content-Type": "application/json", "X-Buildspace-Event": row["type"],
                   "X-Buildspace-Delivery": row["delivery_id"],
                   "X-Buildspace-Signature-256": signature(secret, body)}
        return await self.post(row["url"], body, headers)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Result:
        started = time.monotonic()
        code, error = None, None
        try:
            async with self.client.stream("POST", url, content=body, headers=headers) as r:
                code = r.status_code
        except httpx.TimeoutException:
            error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if code is not None and not 200 <= code < 300:
            error = f"the receiver answered HTTP {code}"
        return Result(code, error, int((time.monotonic() - started) * 1000))

    async def target_problem(self, url: str) -> str | None:
        """Why the URL may not be sent to now (its name resolves to a private address)."""
        if self.settings.webhook_allow_private_targets:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"cannot resolve {host}: {exc}"
        problems = [address_problem(str(info[4][0])) for info in infos]
        return next((f"{host} resolves to {p}" for p in problems if p), address_problem(host))

    async def record(self, row: asyncpg.Record, result: Result) -> None:
        attempt = row["attempts"] + 1
        state, next_at = "succeeded", None
        if not result.ok:
            give_up = attempt >= self.settings.webhook_max_attempts
            state = "failed" if give_up else "pending"
            s = self.settings
            delay = retry_delay(attempt, s.webhook_retry_base_seconds, s.webhook_retry_max_seconds)
            next_at = None if give_up else utcnow() + timedelta(seconds=delay)
        async with self.pool.acquire() as conn, conn.transaction():
            # Only the lease holder records (a canceled or re-leased delivery is left).
            updated = await conn.fetchval(
                "UPDATE webhook_outbox SET attempts = $2, state = CASE WHEN state = 'pending' "
                "THEN $3 ELSE state END, next_attempt_at = $4, lease_until = NULL "
                "WHERE delivery_id = $1 AND attempts = $5 RETURNING delivery_id",
                row["delivery_id"], attempt, state, next_at, row["attempts"])
            if updated is None:
                return
            await conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, "
                "duration_ms, next_retry_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT DO NOTHING", row["delivery_id"], attempt,
                utcnow() - timedelta(milliseconds=result.duration_ms), result.status_code,
                result.error, result.duration_ms, next_at)

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


def register_deliveries(app: Any, settings: Settings, pool: asyncpg.Pool, cipher: EnvCipher
                        ) -> WebhookSender:
    """The sender's timer on the worker's Faust app; close the sender after the app."""
    sender = WebhookSender(settings, pool, cipher)

    async def send_webhooks() -> None:
        await sender.tick()

    app.timer(interval=0.2, name="send_webhooks")(send_webhooks)
    return sender
