"""Short-lived grants scoped to one deployment, for builders outside the platform (ECS).

A build grant is a bearer token ``g1.<payload>.<signature>`` (URL-safe base64, no
padding): the payload names the deployment, its project and an expiry (unix seconds),
the signature is HMAC-SHA256 over ``g1.<payload>`` with ``infra.secrets.grant_key``.
It lets its holder report that one deployment's build to the API, nothing else.

Blob uploads are granted the same way, per blob: a presigned S3 PUT URL that expires in
minutes and, where the store checks it (AWS S3, MinIO; rclone does not), only accepts a
body whose SHA-256 is the blob's name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import boto3
import orjson
from botocore.config import Config

from infra.secrets import grant_key
from infra.settings import Settings
from schemas.artifacts import blob_key
from schemas.builds import BuildSpec

VERSION = "g1"
# A build may clone (up to 5 min) and wait for Fargate capacity before its timeout
# starts, then publish after it: the grant outlives build_timeout_seconds by this much.
GRANT_MARGIN_S = 900
UPLOAD_URL_TTL_S = 600


class GrantError(Exception):
    """The token is not a valid grant for this deployment (malformed, forged, expired,
    or for another deployment)."""


@dataclass(frozen=True)
class Grant:
    deployment_id: str
    project_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, f"{VERSION}.{payload}".encode(), hashlib.sha256).digest())


def grant_ttl(settings: Settings) -> int:
    return settings.build_timeout_seconds + GRANT_MARGIN_S


def mint(key: bytes, deployment_id: str, project_id: str, ttl_seconds: int,
         now: float | None = None) -> str:
    """A grant for one deployment, valid for ``ttl_seconds`` from ``now``."""
    expires = int(time.time() if now is None else now) + ttl_seconds
    payload = _b64(orjson.dumps({"d": deployment_id, "p": project_id, "e": expires}))
    return f"{VERSION}.{payload}.{_signature(key, payload)}"


def mint_for_build(settings: Settings, spec: BuildSpec, now: float | None = None) -> str:
    """The grant handed to the builder of ``spec``, signed with the platform's key."""
    return mint(grant_key(settings), spec.deployment_id, spec.project_id,
                grant_ttl(settings), now)


def _claims(payload: str) -> Grant:
    try:
        claims = orjson.loads(_unb64(payload))
        grant = Grant(str(claims["d"]), str(claims["p"]), int(claims["e"]))
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise GrantError("malformed grant") from None
    return grant


def verify(key: bytes, token: str, deployment_id: str, now: float | None = None) -> Grant:
    """The grant ``token`` carries, if it is genuine, unexpired and for ``deployment_id``."""
    version, _, rest = token.partition(".")
    payload, _, signature = rest.partition(".")
    if version != VERSION or not payload or not signature:
        raise GrantError("malformed grant")
    if not hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
        raise GrantError("invalid grant signature")
    grant = _claims(payload)
    if grant.expires_at <= (time.time() if now is None else now):
        raise GrantError("the grant has expired")
    if grant.deployment_id != deployment_id:
        raise GrantError("the grant is for another deployment")
    return grant


def presigning_client(settings: Settings) -> Any:
    """An S3 client that presigns with SigV4: botocore otherwise presigns us-east-1 URLs
    with SigV2, which S3-compatible servers (rclone, MinIO) refuse."""
    return boto3.client(
        "s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key.get_secret_value(),
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def grant_download(client: Any, bucket: str, sha256: str,
                   ttl_seconds: int = UPLOAD_URL_TTL_S) -> str:
    """A presigned GET of one blob."""
    url: str = client.generate_presigned_url(
        "get_object", ExpiresIn=ttl_seconds, Params={"Bucket": bucket, "Key": blob_key(sha256)})
    return url


@dataclass(frozen=True)
class UploadGrant:
    """A presigned PUT of one blob: send the body to ``url`` with exactly ``headers``."""

    sha256: str
    url: str
    headers: dict[str, str]


def grant_upload(client: Any, bucket: str, sha256: str,
                 ttl_seconds: int = UPLOAD_URL_TTL_S, key: str | None = None) -> UploadGrant:
    """A presigned PUT of the blob, to its key in the store or to ``key`` (staging)."""
    checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
    headers = {"Content-Type": "application/octet-stream", "x-amz-checksum-sha256": checksum}
    url = client.generate_presigned_url(
        "put_object", ExpiresIn=ttl_seconds,
        Params={"Bucket": bucket, "Key": key or blob_key(sha256), "ChecksumSHA256": checksum,
                "ContentType": headers["Content-Type"]})
    return UploadGrant(sha256, url, headers)
