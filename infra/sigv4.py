"""Checking an AWS Signature Version 4 ``Authorization`` header, as an S3 server does."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)


class SignatureError(Exception):
    """The request is not signed by a known key, or not as it arrived."""


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
           credentials: Mapping[str, str]) -> None:
    auth = headers.get("Authorization", "")
    if not auth.startswith(ALGORITHM + " "):
        raise SignatureError("an AWS4-HMAC-SHA256 Authorization header is required")
    fields = dict(part.strip().split("=", 1) for part in auth[len(ALGORITHM):].split(",")
                  if "=" in part)
    try:
        key_id, date, region, service, terminal = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError) as e:
        raise SignatureError("malformed Authorization header") from e
    secret = credentials.get(key_id)
    if secret is None:
        raise SignatureError("unknown access key")
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as e:
        raise SignatureError("x-amz-date is missing or malformed") from e
    if abs(datetime.now(UTC) - when) > MAX_SKEW or not amz_date.startswith(date):
        raise SignatureError("the request time is too far from now")
    payload = headers.get("x-amz-content-sha256", "")
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        raise SignatureError("x-amz-content-sha256 does not match the body")
    if "host" not in signed or any(h not in headers for h in signed):
        raise SignatureError("a signed header is missing")
    canonical = "\n".join([
        method, path or "/", _canonical_query(query),
        "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed),
        ";".join(signed), payload,
    ])
    scope = f"{date}/{region}/{service}/{terminal}"
    to_sign = "\n".join([ALGORITHM, amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, terminal):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("the signature does not match")


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))
