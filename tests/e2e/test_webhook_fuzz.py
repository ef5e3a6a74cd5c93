"""Fuzz the webhook endpoints with a seeded generator: malformed JSON, random headers,
wrong or missing signatures, huge bodies, replays. Never a 5xx, never an append."""

from __future__ import annotations

import hashlib
import hmac
import random
import string
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.e2e.test_webhooks import appends_nothing, project_with_secret

SEED = 20261122
CASES = 300
LIMIT = 1024 * 1024
EVENTS = ["push", "push", "ping", "ping", "issues", "", "Push Hook", "Push Hook",
          "Tag Push Hook", "pull_request"]
UNDEPLOYABLE_AFTER = [None, 42, "HEAD", "0" * 40, "g" * 40, "A" * 40, "a" * 39, ["x"]]
REFS = ["refs/heads/main", "refs/tags/v1", "refs/pull/1/head", "main", None, 7, ""]


@dataclass
class Case:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    allowed: set[int] = field(default_factory=set)


def text(rng: random.Random, n: int = 20) -> str:
    return "".join(rng.choice(string.printable[:94]) for _ in range(rng.randint(0, n)))


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, 0, -1, 2**53, 1.5])
    if kind in (2, 3):
        return text(rng)
    if kind == 4:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(rng, 8): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def payload(rng: random.Random, url: str) -> dict[str, Any]:
    """A JSON object shaped like a push that never deploys (no branch commit)."""
    found: dict[str, Any] = {"ref": rng.choice(REFS), "after": rng.choice(UNDEPLOYABLE_AFTER),
                             "checkout_sha": rng.choice(UNDEPLOYABLE_AFTER)}
    if rng.random() < 0.7:
        found["repository"] = {"clone_url": url, "html_url": value(rng)}
        found["project"] = {"git_http_url": url}
    if rng.random() < 0.3:
        found[text(rng, 5)] = value(rng)
    return found


def malformed(rng: random.Random) -> bytes:
    return rng.choice([
        lambda: rng.randbytes(rng.randint(0, 2000)),
        lambda: orjson.dumps(value(rng))[: rng.randint(0, 50)],
        lambda: b"[" * 2000 + b"]" * 2000,
        lambda: b'{"ref": "refs/heads/main", "after": "\xff\xfe"}',
        lambda: b"",
        lambda: orjson.dumps([value(rng)]),
        lambda: b"null",
    ])()


def body_for(rng: random.Random, url: str) -> tuple[bytes, bool]:
    """(body, whether it is a JSON object)."""
    if rng.random() < 0.5:
        return orjson.dumps(payload(rng, url)), True
    body = malformed(rng)
    try:
        return body, isinstance(orjson.loads(body), dict)
    except orjson.JSONDecodeError:
        return body, False


def github_case(rng: random.Random, project: dict, secret: str) -> Case:
    body, is_object = body_for(rng, project["git_url"])
    event = rng.choice(EVENTS)
    case = Case("/v1/webhooks/github", body, {"x-github-event": event,
                                                 "x-github-delivery": text(rng, 40)})
    signed = rng.random() < 0.4
    hint(rng, case, project)
    if signed:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        case.headers["x-hub-signature-256"] = "sha256=" + digest
    else:
        case.headers["x-hub-signature-256"] = rng.choice([
            "sha256=" + rng.randbytes(32).hex(), "sha256=" + text(rng, 70), text(rng, 80),
            "sha1=" + rng.randbytes(20).hex(), ""])
    case.allowed = expected(signed and case.params.get("project") == project["id"],
                            is_object, event, "ping")
    if signed and "project" not in case.params and is_object:
        case.allowed |= {200, 202, 401}  # verified through the payload's repository, or not
    return case


def gitlab_case(rng: random.Random, project: dict, secret: str) -> Case:
    body, is_object = body_for(rng, project["git_url"])
    event = rng.choice(EVENTS)
    signed = rng.random() < 0.4
    token = secret if signed else rng.choice([text(rng, 50), secret[:-1], secret + "x", ""])
    case = Case("/v1/webhooks/gitlab", body, {"x-gitlab-token": token, "x-gitlab-event": event,
                                                 "x-gitlab-event-uuid": text(rng, 40)})
    hint(rng, case, project)
    case.allowed = expected(signed and case.params.get("project") == project["id"],
                            is_object, event, None)
    if signed and "project" not in case.params and is_object:
        case.allowed |= {202, 401}
    return case


def hint(rng: random.Random, case: Case, project: dict) -> None:
    """Mostly the project's webhook URL (``?project=``), sometimes none or a wrong one."""
    chosen = rng.choice([project["id"], project["id"], text(rng, 10), None])
    if chosen is not None:
        case.params["project"] = chosen


def expected(verified: bool, is_object: bool, event: str, ping: str | None) -> set[int]:
    if not verified:
        return {401}
    if not is_object:
        return {400}
    return {200} if event == ping else {202}


def hook_case(rng: random.Random) -> Case:
    token = "".join(rng.choice(string.ascii_letters + "-_") for _ in range(rng.randint(1, 80)))
    return Case(f"/v1/hooks/{token}", malformed(rng), allowed={404})


def huge_case(rng: random.Random, project: dict, secret: str) -> Case:
    case = rng.choice([github_case, gitlab_case])(rng, project, secret)
    case.body = b"{" + b" " * (LIMIT + rng.randint(0, 4096)) + b"}"
    case.allowed = {413}
    return case


def test_webhook_fuzz_never_fails_and_never_appends(platform, git_server):
    project, secret = project_with_secret(platform, git_server, "fuzzed")
    rng = random.Random(SEED)
    makers = [github_case] * 5 + [gitlab_case] * 4
    seen: list[Case] = []
    answered: set[int] = set()
    with appends_nothing(platform), platform.client() as c:
        for i in range(CASES):
            if i % 50 == 49:
                case = huge_case(rng, project, secret)
            elif i % 7 == 6:
                case = hook_case(rng)
            elif seen and i % 11 == 10:
                case = rng.choice(seen)  # replayed exactly
            else:
                case = rng.choice(makers)(rng, project, secret)
            seen.append(case)
            r = c.post(case.path, content=case.body, headers=case.headers, params=case.params)
            assert r.status_code in case.allowed, (i, case.path, case.headers, case.params,
                                                   case.body[:200], r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json"), r.text
            answered.add(r.status_code)
    assert answered == {200, 202, 400, 401, 404, 413}  # every path was exercised
