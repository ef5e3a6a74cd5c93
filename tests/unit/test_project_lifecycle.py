"""Pure rules of project deletion and outgoing webhooks: deciding, URL checks, backoff,
signatures, payloads and which blobs a collection may delete."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from commands.lifecycle.decide import MAX_WEBHOOKS, add_webhook, delete_project, remove_webhook
from commands.projects.decide import DomainClaim, ProjectState, evolve
from infra.settings import Settings
from projections.outgoing import body, delivery_id
from schemas.artifacts import Manifest, ManifestEntry, Variant
from schemas.envelope import Meta
from schemas.errors import Conflict, NotFound
from schemas.events import DeploymentCanceled, DeploymentReady, parse_event
from schemas.lifecycle import ProjectDeleted
from schemas.outgoing import (
    EVENT_TYPES,
    WebhookBody,
    address_problem,
    retry_delay,
    signature,
)
from streams.artifact_gc import unreferenced

STATE = ProjectState(project_id="p1", exists=True, name="Site", subdomain="site",
                     domains={"www.example.com": DomainClaim(domain_id="d", token="t")})


def test_delete_cancels_unfinished_deployments_then_deletes():
    events = delete_project(STATE, ["a", "b"], Meta.new())
    assert [type(e) for e in events] == [DeploymentCanceled, DeploymentCanceled,
                                         ProjectDeleted]
    deleted = events[-1]
    assert isinstance(deleted, ProjectDeleted)
    assert (deleted.subdomain, deleted.hostnames) == ("site", ["www.example.com"])
    assert parse_event(orjson.dumps(deleted.model_dump(mode="json"))) == deleted


def test_a_deleted_project_refuses_every_command():
    state = evolve(STATE, delete_project(STATE, [], Meta.new())[-1])
    assert not state.exists and state.deleted and state.domains == {}
    with pytest.raises(NotFound):
        delete_project(state, [], Meta.new())
    with pytest.raises(NotFound):
        add_webhook(state, "w", "https://example.com/", ["deployment.ready"], "c", 0,
                    Meta.new())


def test_webhooks_are_capped_and_an_unknown_one_cannot_be_removed():
    with pytest.raises(Conflict):
        add_webhook(STATE, "w", "https://example.com/", list(EVENT_TYPES), "c",
                    MAX_WEBHOOKS, Meta.new())
    with pytest.raises(NotFound):
        remove_webhook(STATE, "w", False, Meta.new())
    assert remove_webhook(STATE, "w", True, Meta.new())[0].webhook_id == "w"  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["ftp://example.com/", "example.com/hook", "https:///x",
                                 "https://u:p@example.com/", "https://example.com/#x",
                                 "https://example.com:99999/", "https://exa mple.com/"])
def test_webhook_urls_must_be_plain_http_urls(url: str):
    with pytest.raises(ValidationError):
        WebhookBody(url=url)


def test_webhook_events_default_to_all_in_catalog_order():
    assert WebhookBody(url="https://example.com/").event_types() == list(EVENT_TYPES)
    chosen = WebhookBody(url="https://example.com/",
                         events=["deployment.ready", "deployment.created", "deployment.ready"])
    assert chosen.event_types() == ["deployment.created", "deployment.ready"]


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254",
                                  "::1", "[::ffff:127.0.0.1]", "localhost", "db.internal",
                                  "0.0.0.0", "fd00::1"])
def test_private_targets_are_named(host: str):
    assert address_problem(host)


@pytest.mark.parametrize("host", ["example.com", "8.8.8.8", "2606:4700::1111"])
def test_public_targets_pass(host: str):
    assert address_problem(host) is None


def test_backoff_doubles_up_to_the_cap():
    assert [retry_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert retry_delay(10_000, 1.0, 60.0) == 60


def test_the_signature_is_the_hmac_of_the_raw_body():
    raw = b'{"a": 1}'
    expected = hmac.new(b"whsec_x", raw, hashlib.sha256).hexdigest()
    assert signature("whsec_x", raw) == f"sha256={expected}"


def test_the_payload_names_the_event_and_the_deployment():
    ready = DeploymentReady(stream_id="p1", project_id="p1", deployment_id="d" * 32,
                            commit_sha="c" * 40, file_count=1, total_bytes=2, uploaded_blobs=1,
                            install_ms=0, build_ms=0,
                            occurred_at=datetime(2025, 1, 2, tzinfo=UTC))
    payload = orjson.loads(body(ready, "deployment.ready", None, Settings()))
    assert payload == {"id": ready.event_id, "type": "deployment.ready",
                       "created_at": "2025-01-02T00:00:00+00:00", "project_id": "p1",
                       "deployment": {"id": "d" * 32, "status": "READY",
                                      "commit_sha": "c" * 40, "file_count": 1,
                                      "total_bytes": 2}}
    assert delivery_id("w", "e") == delivery_id("w", "e") != delivery_id("w2", "e")


def entry(sha: str, *variants: str) -> ManifestEntry:
    encodings = dict(zip(("gzip", "br"), (Variant(sha256=v, size=1) for v in variants),
                         strict=False))
    return ManifestEntry(sha256=sha, size=1, content_type="text/plain",
                         encodings=encodings)  # type: ignore[arg-type]


def test_only_blobs_no_live_manifest_uses_are_collected():
    doomed = Manifest(deployment_id="d1", files={"a": entry("a1", "a1.gz", "a1.br"),
                                                 "s": entry("s1", "s1.gz")})
    live = Manifest(deployment_id="d2", files={"s": entry("s1", "s1.gz"), "b": entry("b1")})
    blobs, kept = unreferenced([doomed], [live])
    assert blobs == {"a1", "a1.gz", "a1.br"} and kept == 2
    assert unreferenced([doomed], []) == ({"a1", "a1.gz", "a1.br", "s1", "s1.gz"}, 0)
    assert unreferenced([], [live]) == (set(), 0)
