"""Managed-Kafka security against the real embedded broker.

One Kafka node gets two extra listeners, with a CA, certificates and SCRAM users that the
test creates: SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and SSL requiring a client
certificate (mutual TLS). Every Kafka client the platform has (topic admin, event log,
plain consumer, edge route follower, live logs, build emitter, Faust worker) connects with
nothing but the settings; a wrong password, an untrusted broker and a client without a
certificate are refused promptly; and the password never shows in a log or a repr.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from builder.emitter import KafkaEmitter
from edge.follower import RouteFollower
from edge.routes import RouteTable
from infra.broker import KafkaBroker
from infra.connections import kafka_options
from infra.embedded import free_port
from infra.kafka import EventLog, Position, ensure_topics
from infra.settings import Settings
from projections.live import LiveLogs
from schemas.builds import BuildSpec
from schemas.envelope import dumps
from schemas.routes import Route
from streams.app import credentials, faust_app

USER = "alice"
PASSWORD = f"pw-{secrets.token_hex(16)}"  # unique, so any leak of it is found by search
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
MECHANISMS: tuple[Mechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
WAIT = 30.0  # deadline for a condition that should hold within a second or two
REFUSED_WITHIN = 30.0  # a refused client must say so before this, not hang
JAAS = "org.apache.kafka.common.security"

SPEC = BuildSpec(project_id="p-secure", deployment_id="d-secure",
                 git_url="https://example.com/site.git", ref="main")
ROUTE = Route(hostname="secure", project_id=SPEC.project_id,
              deployment_id=SPEC.deployment_id, number=1)


# --- a CA and the certificates it signs ---

Issuer = tuple[x509.Certificate, rsa.RSAPrivateKey]


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey, name: str, issuer: Issuer | None = None,
                 sans: tuple[x509.GeneralName, ...] = ()) -> x509.Certificate:
    """A CA's self-signed certificate when ``issuer`` is None, else a leaf it signs."""
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_cert, signer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signer_key.public_key()), critical=False))
    if issuer is None:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)),
                                        critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _pem(item: x509.Certificate | rsa.RSAPrivateKey) -> bytes:
    if isinstance(item, x509.Certificate):
        return item.public_bytes(serialization.Encoding.PEM)
    return item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())


def _ca(name: str) -> Issuer:
    key = _key()
    return _certificate(key, name), key


@dataclass(frozen=True)
class Pki:
    ca: Path  # signs the broker's and the client's certificates
    keystore: Path  # the broker's key and certificate chain
    client_cert: Path
    client_key: Path
    stranger_ca: Path  # a CA the broker does not trust and that signed nothing it uses
    stranger_cert: Path  # a client certificate that CA signed
    stranger_key: Path


def make_pki(root: Path) -> Pki:
    root.mkdir(parents=True)
    ca, stranger = _ca("buildspace test CA"), _ca("stranger CA")
    server_key, client_key, stranger_key = _key(), _key(), _key()
    server = _certificate(server_key, "localhost", ca, (
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))))
    files = {
        "ca.pem": _pem(ca[0]),
        "broker.pem": _pem(server_key) + _pem(server) + _pem(ca[0]),
        "client.pem": _pem(_certificate(client_key, "buildspace-client", ca)),
        "client.key": _pem(client_key),
        "stranger-ca.pem": _pem(stranger[0]),
        "stranger.pem": _pem(_certificate(stranger_key, "buildspace-client", stranger)),
        "stranger.key": _pem(stranger_key),
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    return Pki(*(root / name for name in files))


# --- the broker ---

@dataclass(frozen=True)
class SecureKafka:
    pki: Pki
    sasl_ssl: str  # bootstrap address of the SASL_SSL listener
    ssl: str  # bootstrap address of the mutual-TLS listener


def security_properties(pki: Pki) -> dict[str, str]:
    """PEM stores for both TLS listeners; SASL on one, client certificates on the other."""
    scram = f"{JAAS}.scram.ScramLoginModule required;"
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "listener.name.sasl_ssl.plain.sasl.jaas.config":
            f'{JAAS}.plain.PlainLoginModule required user_{USER}="{PASSWORD}";',
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram,
    }


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    root = tmp_path_factory.mktemp("kafka-security")
    pki = make_pki(root / "pki")
    sasl_port, ssl_port = free_port(), free_port()
    scram_users = [arg for mechanism in MECHANISMS[1:] for arg in (
        "--add-scram", f"{mechanism}=[name={USER},password={PASSWORD}]")]
    broker = KafkaBroker(
        root / "kafka", 0, root / "logs",
        listeners={"SASL_SSL": ("SASL_SSL", sasl_port), "SSL": ("SSL", ssl_port)},
        properties=security_properties(pki), format_args=scram_users).start()
    try:
        yield SecureKafka(pki, f"127.0.0.1:{sasl_port}", f"127.0.0.1:{ssl_port}")
    finally:
        broker.stop()


# --- settings, as an operator would write them ---

_names = itertools.count()


def _own_topics() -> dict[str, Any]:
    """Topics of the test's own (one partition each), so tests do not see each other."""
    n = next(_names)
    return {f"topic_{name}": f"secure{n}.{name}"
            for name in ("events", "logs", "commands", "routes")} | {"topic_partitions": 1}


def sasl_settings(kafka: SecureKafka, mechanism: Mechanism, *, password: str = PASSWORD,
                  cafile: Path | None = None) -> Settings:
    return Settings(kafka_bootstrap=kafka.sasl_ssl, kafka_security_protocol="SASL_SSL",
                    kafka_sasl_mechanism=mechanism, kafka_sasl_username=USER,
                    kafka_sasl_password=SecretStr(password),
                    kafka_ssl_cafile=cafile or kafka.pki.ca, **_own_topics())


def mtls_settings(kafka: SecureKafka, *, cert: Path | None = None,
                  key: Path | None = None) -> Settings:
    return Settings(kafka_bootstrap=kafka.ssl, kafka_security_protocol="SSL",
                    kafka_ssl_cafile=kafka.pki.ca, kafka_ssl_certfile=cert,
                    kafka_ssl_keyfile=key, **_own_topics())


def with_client_certificate(kafka: SecureKafka) -> Settings:
    return mtls_settings(kafka, cert=kafka.pki.client_cert, key=kafka.pki.client_key)


# --- what the platform's clients do ---

async def every_client(settings: Settings) -> None:
    """Create the topics, append a route, and see it through each kind of reader; publish
    a build's log line and see it in the live view."""
    await ensure_topics(settings)
    log = EventLog(settings)
    await log.start()
    try:
        position = await log.append(settings.topic_routes, ROUTE.hostname, ROUTE)
    finally:
        await log.stop()
    assert await read_back(settings, position) == dumps(ROUTE)
    assert await routes_loaded(settings) == ROUTE
    assert await live_lines(settings, "built over TLS") == ["built over TLS"]


async def read_back(settings: Settings, position: Position) -> bytes | None:
    consumer = AIOKafkaConsumer(**kafka_options(settings), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(position.topic, position.partition)
        consumer.assign([partition])
        consumer.seek(partition, position.offset)
        record = await asyncio.wait_for(consumer.getone(), WAIT)
    finally:
        await consumer.stop()
    return record.value


async def routes_loaded(settings: Settings) -> Route | None:
    """What the edge serves for ``ROUTE``'s host once its follower has caught up."""
    table = RouteTable(settings.base_domain)
    follower = RouteFollower(settings, table, topic_wait=WAIT)
    await follower.start()
    try:
        await asyncio.wait_for(follower.wait_ready(), WAIT)
    finally:
        await follower.stop()
    return table.lookup(f"{ROUTE.hostname}.{settings.base_domain}")


async def live_lines(settings: Settings, text: str) -> list[str]:
    """The lines a live-log watcher receives when a build emits ``text``."""
    live = LiveLogs(settings)
    await live.start()
    try:
        with live.watch(SPEC.deployment_id) as queue:
            async with KafkaEmitter(settings, SPEC) as emitter:
                await emitter.line("stdout", text)
            item = await asyncio.wait_for(queue.get(), WAIT)
    finally:
        await live.stop()
    assert isinstance(item, list), item
    return [line.line for line in item]


async def faust_consumes(settings: Settings, value: bytes) -> bytes:
    """Start the worker's Faust app with one agent, and return what the agent receives
    once ``value`` has been appended to the commands topic."""
    await ensure_topics(settings)
    app = faust_app(settings)
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def receive(stream: Any) -> None:
        async for event in stream:
            received.put_nowait(event)

    topic = app.topic(settings.topic_commands, key_serializer="raw", value_serializer="raw")
    app.agent(topic, name="receive")(receive)
    await app.start()
    log = EventLog(settings)
    try:
        await log.start()
        await log.append_raw(settings.topic_commands, b"k", value)
        return await asyncio.wait_for(received.get(), WAIT)
    finally:
        await log.stop()
        await app.stop()


async def refused(settings: Settings) -> None:
    """Assert that the broker turns the client away, with an error and not a hang."""
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await asyncio.wait_for(ensure_topics(settings), REFUSED_WITHIN)


# --- the tests ---

@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.asyncio
async def test_every_client_connects_over_sasl_ssl(
        secure_kafka: SecureKafka, mechanism: Mechanism, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await every_client(sasl_settings(secure_kafka, mechanism))
    assert f"Authenticated as {USER} via {mechanism}" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.asyncio
async def test_every_client_connects_with_a_client_certificate(secure_kafka: SecureKafka) -> None:
    await every_client(with_client_certificate(secure_kafka))


@pytest.mark.parametrize("settings_for", [
    lambda kafka: sasl_settings(kafka, "SCRAM-SHA-512"), with_client_certificate,
], ids=["SASL_SSL-SCRAM-SHA-512", "SSL-client-certificate"])
@pytest.mark.asyncio
async def test_the_faust_worker_consumes(secure_kafka: SecureKafka,
                                         settings_for: Callable[[SecureKafka], Settings],
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(secure_kafka)
    assert await faust_consumes(settings, b"over TLS") == b"over TLS"
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.asyncio
async def test_a_wrong_password_is_refused(secure_kafka: SecureKafka, mechanism: Mechanism,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = f"wrong-{secrets.token_hex(16)}"
    await refused(sasl_settings(secure_kafka, mechanism, password=wrong))
    assert "SaslAuthenticationFailed" in caplog.text  # the reason, for the operator
    assert wrong not in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.asyncio
async def test_a_client_that_does_not_trust_the_broker_is_refused(
        secure_kafka: SecureKafka, caplog: pytest.LogCaptureFixture) -> None:
    await refused(sasl_settings(secure_kafka, "PLAIN", cafile=secure_kafka.pki.stranger_ca))
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert "Authenticated" not in caplog.text  # no credentials went to that broker


@pytest.mark.asyncio
async def test_the_mutual_tls_listener_refuses_a_client_without_a_certificate(
        secure_kafka: SecureKafka) -> None:
    await refused(mtls_settings(secure_kafka))


@pytest.mark.asyncio
async def test_the_mutual_tls_listener_refuses_a_certificate_from_another_ca(
        secure_kafka: SecureKafka) -> None:
    pki = secure_kafka.pki
    await refused(mtls_settings(secure_kafka, cert=pki.stranger_cert, key=pki.stranger_key))


def test_the_password_is_hidden_wherever_settings_are_shown(
        secure_kafka: SecureKafka) -> None:
    settings = sasl_settings(secure_kafka, "SCRAM-SHA-256")
    for shown in (repr(settings), str(settings), settings.model_dump_json(),
                  repr(credentials(settings))):
        assert PASSWORD not in shown
