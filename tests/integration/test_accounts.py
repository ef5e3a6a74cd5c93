"""The accounts service against real PostgreSQL and the shared Kafka broker: the first
start's owner, argon2id hashes, failed sign-ins slowed per email and per address,
tokens that expire, are revoked or hand on only what they hold, and events that never
carry a secret."""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from commands.accounts import reset
from commands.accounts.service import AccountService, hash_password
from commands.accounts.store import FailureLimits
from commands.teams import store as teams
from infra.compose.migrate import migrate
from infra.db import open_pool
from infra.embedded import free_port
from infra.kafka import EventLog, ensure_topics
from infra.outbox import Relay
from infra.settings import Settings
from schemas.accounts import CreateTokenBody, token_digest
from schemas.errors import Forbidden, NotFound, RateLimited, Unauthorized
from tests.support.kafka import all_records
from tests.support.platform import fresh_database

OpenService = Callable[..., Awaitable[tuple[AccountService, Settings]]]


@pytest.fixture
def dsn() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest_asyncio.fixture
async def service(dsn: str, kafka_bootstrap: str) -> AsyncIterator[OpenService]:
    """Opens the accounts service, with the settings a test gives, on a fresh database and
    events topic; closed after the test."""
    async with contextlib.AsyncExitStack() as opened:
        async def open_service(limits: FailureLimits | None = None,
                               **settings: Any) -> tuple[AccountService, Settings]:
            s = Settings(database_url=dsn, kafka_bootstrap=kafka_bootstrap,
                         topic_events=f"accounts-{uuid.uuid4().hex[:8]}", **settings)
            await ensure_topics(s)
            return await opened.enter_async_context(Service(s, limits)), s
        yield open_service


class Service:
    """An ``AccountService`` over its own pool and event log."""

    def __init__(self, settings: Settings, limits: FailureLimits | None) -> None:
        self.settings, self.limits = settings, limits

    async def __aenter__(self) -> AccountService:
        self.pool = await open_pool(self.settings)
        await migrate(self.pool)
        self.events = EventLog(self.settings)
        await self.events.start()
        self.relay = Relay(self.pool, self.events)
        await self.relay.start()
        return AccountService(self.pool, self.settings, self.limits)

    async def __aexit__(self, *_: object) -> None:
        await self.relay.stop()
        await self.events.stop()
        await self.pool.close()


async def events_of(s: Settings) -> list[dict[str, Any]]:
    assert s.kafka_bootstrap
    return await all_records(s.kafka_bootstrap, s.topic_events, timeout=5)


@pytest.mark.asyncio
async def test_the_first_start_makes_one_owner_with_an_argon2id_hash(service):
    accounts, s = await service(admin_email=" Boss@Example.com ",
                                admin_password=SecretStr("correct horse battery"))
    assert await accounts.create_owner() is None  # the password was given
    assert await accounts.create_owner() is None  # and only once
    async with accounts.pool.acquire() as conn:
        rows = await conn.fetch("SELECT email, password_hash, instance_owner "
                                "FROM acct_users")
    assert [(r["email"], r["instance_owner"]) for r in rows] == [("boss@example.com", True)]
    assert rows[0]["password_hash"].startswith("$argon2id$")
    session = await accounts.login("boss@example.com", "correct horse battery", "1.2.3.4")
    assert (await accounts.authenticate(f"Bearer {session.token}", None)).instance_owner
    created = [e for e in await events_of(s) if e["type"] == "UserCreated"]
    assert len(created) == 1 and "correct horse" not in orjson.dumps(created).decode()


@pytest.mark.asyncio
async def test_without_a_password_one_is_generated_and_returned_once(service):
    accounts, s = await service()
    password = await accounts.create_owner()
    assert password and len(password) >= 20
    assert await accounts.create_owner() is None
    await accounts.login("admin@localhost", password, None)
    assert password not in orjson.dumps(await events_of(s)).decode()


@pytest.mark.asyncio
async def test_failed_sign_ins_are_slowed_per_email_and_per_address(service):
    limits = FailureLimits(free=3, first=60, cap=600, forget=900)

    accounts, s = await service(limits, admin_password=SecretStr("right password!"))
    await accounts.create_owner()
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await accounts.login("admin@localhost", "wrong", "10.0.0.1")
    # The fourth failure blocks this email, from any address, and the first address.
    with pytest.raises(Unauthorized):
        await accounts.login("admin@localhost", "wrong", "10.0.0.1")
    with pytest.raises(RateLimited) as blocked:
        await accounts.login("admin@localhost", "right password!", "10.0.0.2")
    assert 1 <= blocked.value.details["retry_after"] <= 60
    with pytest.raises(RateLimited):
        await accounts.login("someone@else.com", "whatever", "10.0.0.1")
    # An address guessing across many emails is blocked too.
    for n in range(4):
        with pytest.raises(Unauthorized):
            await accounts.login(f"user{n}@example.com", "guess", "10.0.0.9")
    with pytest.raises(RateLimited):
        await accounts.login("admin@localhost", "right password!", "10.0.0.9")
    # Once the wait is over a right password signs in, and clears the email's count.
    async with accounts.pool.acquire() as conn:
        await conn.execute("UPDATE acct_login_failures SET blocked_until = now()")
    await accounts.login("admin@localhost", "right password!", "10.0.0.2")
    async with accounts.pool.acquire() as conn:
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM acct_login_failures")}
    assert "email:admin@localhost" not in keys and "ip:10.0.0.1" in keys


@pytest.mark.asyncio
async def test_tokens_expire_are_revoked_and_hand_on_only_what_they_hold(service):
    accounts, s = await service(admin_password=SecretStr("a long password"))
    await accounts.create_owner()
    session = await accounts.login("admin@localhost", "a long password", "::1")
    owner = await accounts.authenticate(f"Bearer {session.token}", "::1")
    async with accounts.pool.acquire() as conn:  # a project of the owner's team
        await conn.execute("INSERT INTO cmd_streams VALUES ('p1', "
                           "'{\"project_id\": \"p1\", \"exists\": true}', 1)")
    with pytest.raises(NotFound):  # a project that does not exist
        await accounts.create_token(owner, CreateTokenBody(name="x", scopes=["read"],
                                                           project_id="p9"))
    made = await accounts.create_token(owner, CreateTokenBody(
        name="deployer", scopes=["deploy", "read"], project_id="p1"))
    assert made.expires_at is not None
    deployer = await accounts.authenticate(f"bearer {made.token}", "10.1.1.1")
    assert deployer.scopes == ("read", "deploy") and deployer.project_id == "p1"
    with pytest.raises(Forbidden):
        await accounts.create_token(deployer, CreateTokenBody(name="x", scopes=["write"]))
    with pytest.raises(Forbidden):
        await accounts.create_token(deployer, CreateTokenBody(
            name="x", scopes=["read"], project_id="p2"))
    narrower = await accounts.create_token(deployer, CreateTokenBody(name="x",
                                                                     scopes=["read"]))
    assert (await accounts.authenticate(f"Bearer {narrower.token}", None)).project_id == "p1"

    listed = {t.id: t for t in await accounts.tokens(owner)}
    assert listed[made.token_id].last_used_ip == "10.1.1.1"
    async with accounts.pool.acquire() as conn:
        await conn.execute("UPDATE acct_tokens SET expires_at = now() - interval '1 s' "
                           "WHERE token_id = $1", narrower.token_id)
    with pytest.raises(Unauthorized, match="expired"):
        await accounts.authenticate(f"Bearer {narrower.token}", None)
    await accounts.revoke(owner, made.token_id)
    with pytest.raises(Unauthorized):
        await accounts.authenticate(f"Bearer {made.token}", None)
    with pytest.raises(NotFound):
        await accounts.revoke(owner, made.token_id)

    published = orjson.dumps(await events_of(s)).decode()
    for token in (session.token, made.token, narrower.token):
        assert token not in published and token_digest(token) not in published
    types = [e["type"] for e in orjson.loads(published)]
    assert types.count("TokenCreated") == 3 and types.count("TokenRevoked") == 1


@pytest.mark.asyncio
async def test_a_reset_link_is_mailed_when_an_smtp_server_is_set(service):
    """A real SMTP server (aiosmtpd) on a free port receives the one-time link."""
    received: list[Any] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        accounts, s = await service(admin_password=SecretStr("the first password"),
                                    smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                    smtp_from="buildspace@example.com")
        await accounts.create_owner()
        await reset.request(accounts.pool, s, "admin@localhost")
        await reset.request(accounts.pool, s, "stranger@example.com")
        assert [e.rcpt_tos for e in received] == [["admin@localhost"]]
        message = email.message_from_bytes(received[0].content, policy=email.policy.default)
        assert message["From"] == "buildspace@example.com"
        assert isinstance(message, EmailMessage)
        secret = re.search(r'"token": "(bsr_[\w-]+)"', message.get_content())
        assert secret
        await reset.confirm(accounts.pool, s, secret[1],
                            await hash_password("a brand new password"))
        await accounts.login("admin@localhost", "a brand new password", None)
    finally:
        controller.stop()


@pytest.mark.asyncio
async def test_a_token_past_its_requests_per_minute_gets_429_until_the_minute_is_over(service):
    accounts, s = await service(admin_password=SecretStr("a long password"),
                                api_requests_per_minute=3)
    await accounts.create_owner()
    busy = await accounts.login("admin@localhost", "a long password", None)
    calm = await accounts.login("admin@localhost", "a long password", None)
    for _ in range(3):
        await accounts.authenticate(f"Bearer {busy.token}", None)
    async with accounts.pool.acquire() as conn:
        while True:  # a fourth request in the same minute (retried across a boundary)
            minute = await conn.fetchval("SELECT date_trunc('minute', now())")
            await conn.execute("UPDATE acct_requests SET count = 3, minute = $2 "
                               "WHERE token_id = $1", busy.token_id, minute)
            try:
                await accounts.authenticate(f"Bearer {busy.token}", None)
            except RateLimited as exc:
                assert 1 <= exc.details["retry_after"] <= 60
                break
            assert await conn.fetchval("SELECT date_trunc('minute', now())") != minute
        await conn.execute("INSERT INTO acct_requests VALUES ($1, date_trunc('minute', "
                           "now()) - interval '5 minutes', 99)", calm.token_id)
    await accounts.authenticate(f"Bearer {calm.token}", None)  # another token is free
    async with accounts.pool.acquire() as conn:  # and its first request of a minute
        minutes = await conn.fetch("SELECT count FROM acct_requests "  # drops the older
                                   "WHERE token_id = $1", calm.token_id)
    assert [r["count"] for r in minutes] == [1]


@pytest.mark.asyncio
async def test_a_database_from_before_accounts_is_migrated(service):
    """What ``buildspace up`` finds on a data dir from before accounts: a project stream
    with no team and a deployment only in the read model. Migrating gives the write side
    the deployment's project, and the project belongs to the instance owner's team once
    the owner is made."""
    accounts, s = await service(admin_password=SecretStr("a long password"))
    async with accounts.pool.acquire() as conn:
        await conn.execute("DELETE FROM cmd_deployments")  # as before accounts
        await conn.execute(
            "INSERT INTO cmd_streams VALUES ('old', $1, 3)",
            orjson.dumps({"project_id": "old", "exists": True, "name": "old"}).decode())
        await conn.execute(
            "INSERT INTO projects (project_id, name, subdomain, git_url, branch, "
            "settings, created_at, updated_at) VALUES ('old', 'old', 'old', '', 'main', "
            "'{}', now(), now())")
        await conn.execute(
            "INSERT INTO deployments (deployment_id, project_id, number, ref, status, "
            "created_at) VALUES ('d-old', 'old', 1, 'main', 'READY', now())")
    await migrate(accounts.pool)
    await migrate(accounts.pool)  # twice: nothing changes
    await accounts.create_owner()
    async with accounts.pool.acquire() as conn:
        assert await conn.fetch("SELECT * FROM cmd_deployments") == [("d-old", "old")]
        owner = await conn.fetchval("SELECT team_id FROM acct_teams WHERE personal")
        assert await teams.project_team(conn, "old") == owner
        assert await teams.project_team(conn, "never") is None
