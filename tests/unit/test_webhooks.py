"""Webhooks, pure: repository names, reading a push, signatures, the deploy hook bucket."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from commands.hooks.decide import Bucket, create_deploy_hook, revoke_deploy_hook, take
from commands.hooks.service import delivery_keys, github_signed, gitlab_signed
from commands.projects.decide import ProjectState
from schemas.envelope import Meta
from schemas.errors import NotFound
from schemas.events import parse_event
from schemas.webhooks import github_repo_keys, gitlab_repo_keys, read_push, repo_key

SHA = "a" * 40


@pytest.mark.parametrize("url", [
    "https://github.com/Acme/Site.git", "https://github.com/acme/site",
    "git@github.com:acme/site.git", "ssh://git@github.com/acme/site.git",
    "git://github.com/acme/site.git", "https://user:pw@github.com:443/acme/site/",
])
def test_the_urls_of_one_repository_have_one_key(url):
    assert repo_key(url) == "github.com/acme/site"


@pytest.mark.parametrize("url", ["", "site", "https://github.com", "http://127.0.0.1:x/a",
                                 None, 42, "x" * 3000])
def test_no_key_for_what_names_no_repository(url):
    assert repo_key(url) is None


def test_a_non_default_port_is_part_of_the_key():
    assert repo_key("http://127.0.0.1:8080/site.git") == "127.0.0.1:8080/site"
    assert repo_key("http://127.0.0.1:8081/site.git") != repo_key(
        "http://127.0.0.1:8080/site.git")


def test_payload_repository_urls_are_read_leniently():
    github = {"repository": {"clone_url": "https://github.com/a/b.git", "html_url": 7}}
    assert github_repo_keys(github) == {"github.com/a/b"}
    assert github_repo_keys([1, 2]) == set() == github_repo_keys({"repository": "x"})
    gitlab = {"project": {"git_http_url": "https://gitlab.com/a/b.git",
                          "git_ssh_url": "git@gitlab.com:a/b.git"}}
    assert gitlab_repo_keys(gitlab) == {"gitlab.com/a/b"}


def test_a_branch_push_deploys_its_commit():
    push = read_push("refs/heads/feature/login", SHA)
    assert (push.branch, push.sha, push.reason) == ("feature/login", SHA, None)


@pytest.mark.parametrize(("ref", "after", "deleted", "reason"), [
    ("refs/tags/v1", SHA, False, "tag"),
    ("refs/heads/main", "0" * 40, False, "deleted"),
    ("refs/heads/main", SHA, True, "deleted"),
    ("refs/pull/1/head", SHA, False, "not a branch"),
    ("refs/heads/main", "HEAD", False, "not a commit"),
    ("refs/heads/--upload-pack=x", SHA, False, "cannot be deployed"),
    (None, SHA, False, "no ref"),
    ("refs/heads/main", ["x"], False, "no ref"),
])
def test_other_pushes_deploy_nothing_and_say_why(ref, after, deleted, reason):
    push = read_push(ref, after, deleted)
    assert push.branch is None and reason in (push.reason or "")


def test_signatures_are_hmac_sha256_of_the_raw_body():
    body = b'{"zen": "x"}'
    good = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert github_signed("s3cret", body, good)
    assert github_signed("s3cret", body, good.upper())
    assert not github_signed("other", body, good)
    assert not github_signed("s3cret", body + b" ", good)
    assert gitlab_signed("s3cret", "s3cret") and not gitlab_signed("s3cret", "s3cre")
    assert not gitlab_signed("s3cret", "sécret")


def test_a_delivery_is_known_by_its_id_and_by_its_body():
    keys = delivery_keys("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", b"{}")
    assert keys[0] == "github:72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert keys[1] == f"body:{hashlib.sha256(b'{}').hexdigest()}"
    assert delivery_keys("github", "bad id\n" * 30, b"{}") == keys[1:]
    assert delivery_keys("gitlab", None, b"{}") == keys[1:]


def test_the_bucket_allows_a_burst_then_one_call_per_interval():
    bucket, waits = Bucket(3.0, 0.0), []
    for _ in range(4):
        bucket, wait = take(bucket, 0.0, 5.0, 3)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.0, 5.0]
    assert take(bucket, 2.0, 5.0, 3)[1] == 3.0
    bucket, wait = take(bucket, 5.0, 5.0, 3)
    assert wait == 0.0 and bucket.tokens == pytest.approx(0.0)
    assert take(Bucket(0.0, 0.0), 1000.0, 5.0, 3)[0].tokens == 2.0  # refills up to the burst


def test_hook_events_round_trip_and_revoking_an_unknown_hook_is_not_found():
    state = ProjectState(project_id="p1", exists=True)
    [created] = create_deploy_hook(state, "h1", "CMS", None, "f" * 64, Meta())
    assert parse_event(created.model_dump(mode="json")) == created
    with pytest.raises(NotFound):
        revoke_deploy_hook(state, "h2", False, Meta())
    with pytest.raises(NotFound):
        create_deploy_hook(ProjectState(project_id="p2"), "h1", "CMS", None, "f" * 64, Meta())
