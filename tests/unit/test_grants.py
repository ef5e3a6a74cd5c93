"""Build grants: a token for one deployment that nobody can forge, stretch or reuse for
another deployment; and presigned blob uploads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from pydantic import SecretStr

from infra.grants import (
    GRANT_MARGIN_S,
    GrantError,
    grant_ttl,
    grant_upload,
    mint,
    mint_for_build,
    presigning_client,
    verify,
)
from infra.settings import Settings
from schemas.builds import BuildSpec

KEY = b"k" * 32
NOW = 1_800_000_000.0


def token(deployment_id: str = "dpl_1", ttl: int = 60) -> str:
    return mint(KEY, deployment_id, "prj_1", ttl, now=NOW)


def test_a_grant_verifies_for_its_deployment_until_it_expires():
    grant = verify(KEY, token(ttl=60), "dpl_1", now=NOW + 59)

    assert (grant.deployment_id, grant.project_id, grant.expires_at) == (
        "dpl_1", "prj_1", int(NOW) + 60)


def test_a_grant_is_compact_and_url_safe():
    assert re.fullmatch(r"g1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", token())
    assert len(token()) < 200


def test_an_expired_grant_is_refused():
    with pytest.raises(GrantError, match="expired"):
        verify(KEY, token(ttl=60), "dpl_1", now=NOW + 60)


def test_a_grant_for_another_deployment_is_refused():
    with pytest.raises(GrantError, match="another deployment"):
        verify(KEY, token("dpl_2"), "dpl_1", now=NOW)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tampered(claims: dict[str, object]) -> str:
    """The token with its payload replaced, and its signature kept."""
    version, _, signature = token().split(".")
    return f"{version}.{b64(orjson.dumps(claims))}.{signature}"


@pytest.mark.parametrize("claims", [
    {"d": "dpl_2", "p": "prj_1", "e": int(NOW) + 60},      # another deployment
    {"d": "dpl_1", "p": "prj_1", "e": int(NOW) + 10**6},   # a later expiry
    {"d": "dpl_1", "p": "prj_2", "e": int(NOW) + 60},      # another project
])
def test_a_tampered_payload_is_refused(claims):
    with pytest.raises(GrantError, match="signature"):
        verify(KEY, tampered(claims), str(claims["d"]), now=NOW)


def test_a_tampered_signature_is_refused():
    good = token()
    flipped = good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1]
    with pytest.raises(GrantError, match="signature"):
        verify(KEY, flipped, "dpl_1", now=NOW)


def test_a_grant_signed_with_another_key_is_refused():
    forged = mint(b"not the platform's key", "dpl_1", "prj_1", 60, now=NOW)
    with pytest.raises(GrantError, match="signature"):
        verify(KEY, forged, "dpl_1", now=NOW)


@pytest.mark.parametrize("bad", ["", "g1", "g1..", "g2.abc.def", "Bearer x", "g1.abc",
                                 "g1.%%%.abc", "\u00e9.\u00e9.\u00e9"])
def test_a_malformed_grant_is_refused(bad):
    with pytest.raises(GrantError):
        verify(KEY, bad, "dpl_1", now=NOW)


def test_a_signed_but_malformed_payload_is_refused():
    payload = b64(b'{"d": "dpl_1"}')
    signature = b64(hmac.new(KEY, f"g1.{payload}".encode(), hashlib.sha256).digest())
    with pytest.raises(GrantError, match="malformed"):
        verify(KEY, f"g1.{payload}.{signature}", "dpl_1", now=NOW)


def test_a_build_grant_lasts_the_build_timeout_plus_a_margin(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, build_timeout_seconds=300)
    spec = BuildSpec(project_id="prj_1", deployment_id="dpl_1", git_url="https://x/y.git",
                     ref="main")

    issued = mint_for_build(settings, spec, now=NOW)

    assert grant_ttl(settings) == 300 + GRANT_MARGIN_S
    key = (tmp_path / "secrets" / "grant.key").read_bytes()
    assert verify(key, issued, "dpl_1", now=NOW).expires_at == int(NOW) + grant_ttl(settings)
    given = Settings(data_dir=tmp_path, grant_secret=SecretStr("explicit"))
    with pytest.raises(GrantError, match="signature"):
        verify(b"explicit", issued, "dpl_1", now=NOW)
    assert verify(b"explicit", mint_for_build(given, spec), "dpl_1").project_id == "prj_1"


def test_an_upload_grant_is_a_short_sigv4_put_of_that_blob_only():
    settings = Settings(s3_endpoint="http://127.0.0.1:9", artifacts_bucket="artifacts")
    sha = hashlib.sha256(b"hello").hexdigest()

    upload = grant_upload(presigning_client(settings), "artifacts", sha, ttl_seconds=300)

    url = urlsplit(upload.url)
    assert url.path == f"/artifacts/blobs/{sha[:2]}/{sha}"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "300"
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"].split(";")
    digest = base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    assert upload.headers["x-amz-checksum-sha256"] == digest
    assert settings.s3_secret_key.get_secret_value() not in upload.url
