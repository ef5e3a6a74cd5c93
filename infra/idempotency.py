"""``Idempotency-Key``: a retried command returns the first outcome and appends nothing.

A POST, PUT, PATCH or DELETE with the header is looked up by (credential, key):

- not seen: it runs, and the first event it writes to the outbox claims the key in the
  same transaction (``claim_in``), so the claim exists exactly when the command's
  effect does; its answer is then stored (encrypted: answers may hold secrets, such as
  a new token). A concurrent duplicate blocks on the claim and gets 409.
- seen, with its answer: the answer again (``Idempotent-Replayed: true``), nothing runs.
- seen with another method, path or body: 422.
- claimed but without an answer: 409 while the first may still be running; after
  ``ANSWER_LOST_AFTER_S``, the API stopped between the commit and storing the answer:
  200 naming the events the first request appended.

A request that appended nothing (refused, invalid) claims nothing: a retry runs again,
which is safe because nothing changed. Keys are scoped to the credential (a token or a
session) and forgotten after a day, as Stripe's are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from infra.secrets import EnvCipher
from schemas.errors import BuildspaceError, Conflict, Invalid

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    event_ids text[] NOT NULL DEFAULT '{}',
    status integer,
    content_type text,
    answer text,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
"""
HEADER = "Idempotency-Key"
MAX_KEY = 255
MAX_BODY = 1 << 20
ANSWER_LOST_AFTER_S = 60.0
KEEP = "24 hours"
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = "bs_session"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Claim:
    scope: str
    key: str
    fingerprint: str
    claimed: bool = False
    events: list[str] = field(default_factory=list)


_claim: ContextVar[Claim | None] = ContextVar("buildspace_idempotency", default=None)


async def claim_in(conn: asyncpg.Connection, event_id: str | None) -> None:
    """In the transaction writing an event to the outbox: claim this request's key
    (first event), and note the event."""
    claim = _claim.get()
    if claim is None:
        return
    if not claim.claimed:
        won = await conn.fetchval(
            "INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING true", claim.scope, claim.key, claim.fingerprint)
        if not won:
            raise Conflict(f"a request with this {HEADER} is in progress or done: retry it "
                           "to get its answer", field=HEADER)
        claim.claimed = True
    if event_id is not None:
        await conn.execute("UPDATE idempotency_keys SET event_ids = array_append(event_ids, $3) "
                           "WHERE scope = $1 AND key = $2", claim.scope, claim.key, event_id)


async def forget_old(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DELETE FROM idempotency_keys WHERE created_at < now() - interval '{KEEP}'")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def credential(scope: Scope) -> bytes | None:
    """What the key is scoped to: the bearer token, else the session cookie."""
    auth = _header(scope, b"authorization")
    if auth:
        return auth
    for part in (_header(scope, b"cookie") or b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == SESSION_COOKIE.encode() and value:
            return value
    return None


def _valid_key(raw: bytes) -> str | None:
    if not 1 <= len(raw) <= MAX_KEY or not all(0x21 <= b <= 0x7E for b in raw):
        return None
    return raw.decode("ascii")


class Idempotency:
    """ASGI middleware of the API (see the module's docstring)."""

    def __init__(self, app: Any, platform: Any) -> None:
        self.app = app
        self.platform = platform  # its pool, and its command side's cipher: used lazily

    @property
    def pool(self) -> asyncpg.Pool:
        return self.platform.pool

    @property
    def cipher(self) -> EnvCipher:
        return self.platform.commands.cipher  # type: ignore[no-any-return]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = _header(scope, HEADER.lower().encode()) if scope["type"] == "http" else None
        if raw is None or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        try:
            claim, body = await self._claim(scope, receive, raw)
            answered = await self._answered(claim)
        except BuildspaceError as exc:
            await _send_json(send, exc.status, exc.to_json(),
                             [(b"retry-after", b"1")] if isinstance(exc, Conflict) else [])
            return
        if answered is not None:
            status, content_type, answer = answered
            await _send(send, status, content_type, answer, [(b"idempotent-replayed", b"true")])
            return
        await self._run(scope, receive, body, send, claim)

    async def _claim(self, scope: Scope, receive: Receive, raw: bytes) -> tuple[Claim, bytes]:
        key = _valid_key(raw)
        if key is None:
            raise Invalid(f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters",
                          field=HEADER)
        who = credential(scope)
        if who is None:
            raise Invalid(f"{HEADER} is for signed-in requests: send Authorization",
                          field=HEADER)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise Invalid(f"a request with an {HEADER} carries at most {MAX_BODY} bytes",
                              field=HEADER)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        print_ = hashlib.sha256(b"\0".join([scope["method"].encode(), scope["path"].encode(),
                                            scope.get("query_string", b""), body]))
        return Claim(hashlib.sha256(who).hexdigest(), key, print_.hexdigest()), body

    async def _answered(self, claim: Claim) -> tuple[int, str, bytes] | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT fingerprint, status, content_type, answer, event_ids, "
                "extract(epoch FROM now() - created_at) AS age FROM idempotency_keys "
                "WHERE scope = $1 AND key = $2", claim.scope, claim.key)
        if row is None:
            return None
        if row["fingerprint"] != claim.fingerprint:
            raise Invalid(f"this {HEADER} was used for a different request (method, path or "
                          "body): use a new key for a new request", field=HEADER)
        if row["status"] is not None:
            answer = self.cipher.decrypt_bytes(row["answer"]) if row["answer"] else b""
            return row["status"], row["content_type"] or "application/json", answer
        if float(row["age"]) < ANSWER_LOST_AFTER_S:
            raise Conflict(f"a request with this {HEADER} is in progress: retry it shortly",
                           field=HEADER)
        lost = {"replayed": True, "event_ids": list(row["event_ids"]),
                "message": "the first request with this key was applied; its answer was lost "
                           "when the API stopped before sending it"}
        return 200, "application/json", orjson.dumps(lost)

    async def _run(self, scope: Scope, receive: Receive, body: bytes, send: Send, claim: Claim
                   ) -> None:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:  # the body was read: what comes next is the client's disconnect
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, content_type, answer = 500, "", bytearray()
        held: list[Message] = []  # the answer of a claimed request, until it is stored

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = (dict(message.get("headers", [])).get(b"content-type", b"")
                                .decode("latin-1"))
            elif message["type"] == "http.response.body":
                answer.extend(message.get("body", b""))
            if claim.claimed and (held or message["type"] == "http.response.start"):
                held.append(message)  # a retry must not overtake the stored answer
            else:
                await send(message)

        token = _claim.set(claim)
        try:
            await self.app(scope, replay, capture)
            if claim.claimed and status < 500:
                sealed = self.cipher.encrypt_bytes(bytes(answer)) if answer else None
                async with self.pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE idempotency_keys SET status = $3, content_type = $4, "
                        "answer = $5 WHERE scope = $1 AND key = $2", claim.scope, claim.key,
                        status, content_type, sealed)
        finally:
            _claim.reset(token)
            for message in held:
                await send(message)


async def _send(send: Send, status: int, content_type: str, body: bytes,
                headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]
                     ) -> None:
    await _send(send, status, "application/json", orjson.dumps(body), headers)
