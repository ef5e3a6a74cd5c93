"""How to connect to things. Only ``infra`` knows these addresses and credentials."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import aioboto3
import boto3
from aiobotocore.config import AioConfig
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.admin import SaslAuthenticateRequest_v0, SaslAuthenticateRequest_v1
from botocore.config import Config

from infra.settings import Settings

SASL_TOKENS = (SaslAuthenticateRequest_v0, SaslAuthenticateRequest_v1)


class HideSaslTokens(logging.Filter):
    """aiokafka logs every request it sends at DEBUG, and SASL PLAIN's carries the
    password in clear: the record keeps the request's name, not its bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, SASL_TOKENS)
                                                  for a in record.args):
            record.args = tuple(f"{type(a).__name__}(<hidden>)" if isinstance(a, SASL_TOKENS)
                                else a for a in record.args)
        return True


# On the logger itself, so it holds whatever handlers a role configures (Faust too).
logging.getLogger("aiokafka.conn").addFilter(HideSaslTokens())


# Checksums only when an operation requires them: rclone's answers to ranged GETs fail
# boto3's validation otherwise. The same for the sync and the async client.
S3_CONFIG: dict[str, Any] = {
    "response_checksum_validation": "when_required",
    "request_checksum_calculation": "when_required",
    "retries": {"max_attempts": 3, "mode": "standard"},
    "max_pool_connections": 32,
    "s3": {"addressing_style": "path"},
}


def s3_options(settings: Settings) -> dict[str, Any]:
    """Endpoint, credentials and region of the configured (or embedded) S3 store."""
    return {
        "endpoint_url": settings.s3_endpoint,
        "aws_access_key_id": settings.s3_access_key.get_secret_value(),
        "aws_secret_access_key": settings.s3_secret_key.get_secret_value(),
        "region_name": settings.s3_region,
    }


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured (or embedded) S3-compatible endpoint."""
    return boto3.client("s3", config=Config(**S3_CONFIG), **s3_options(settings))


def async_s3_client(settings: Settings) -> Any:
    """An aioboto3 S3 client, same endpoint and configuration as ``s3_client``: an async
    context manager (``async with async_s3_client(s) as client``)."""
    return aioboto3.Session().client("s3", config=AioConfig(**S3_CONFIG),
                                     **s3_options(settings))


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create ``bucket`` through the S3 API if it does not exist yet."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)


def kafka_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap:
        raise RuntimeError("kafka_bootstrap is not set (start the embedded stack first)")
    return settings.kafka_bootstrap


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL: the configured CA (else the system's) and
    the client certificate, if one is set."""
    if "SSL" not in settings.kafka_security_protocol:
        return None
    return create_ssl_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
        keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)


def kafka_options(settings: Settings) -> dict[str, Any]:
    """What every aiokafka client (producer, consumer, admin) is given to connect."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka_bootstrap(settings),
        "security_protocol": settings.kafka_security_protocol,
        "ssl_context": kafka_ssl_context(settings),
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        options |= {"sasl_mechanism": settings.kafka_sasl_mechanism,
                    "sasl_plain_username": settings.kafka_sasl_username,
                    "sasl_plain_password": settings.kafka_sasl_password.get_secret_value()}
    return options
