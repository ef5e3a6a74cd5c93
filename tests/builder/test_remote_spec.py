"""How a builder gets its spec: from ``BUILDSPACE_BUILD_SPEC`` or stdin when it runs
locally; with a grant and no spec (an ECS task), from the API, retried while the API is
briefly unavailable and refused clearly otherwise."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import pytest

import builder.remote
import builder.run
from builder.remote import RemoteTarget, ReportRejected, fetch_spec
from builder.run import NoSpec, read_spec
from schemas.builds import BuildSpec

SPEC = BuildSpec(project_id="prj_1", deployment_id="dpl_1", git_url="https://example.com/s.git",
                 ref="main", env={"API_TOKEN": "tok-123"})
TARGET = RemoteTarget("http://api.test/", "g1.grant.sig")
Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder.remote, "RETRY_DELAYS_S", (0, 0, 0))


def api(*answers: Answer) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport giving ``answers`` in turn (the last one from then on)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](request)

    return httpx.MockTransport(handle), seen


def spec_answer(spec: BuildSpec = SPEC) -> Answer:
    return lambda _: httpx.Response(200, content=spec.model_dump_json())


def status(code: int) -> Answer:
    return lambda _: httpx.Response(code, json={"error": {"code": "x", "message": f"m{code}"}})


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_the_spec_is_fetched_with_the_grant_through_brief_outages() -> None:
    transport, seen = api(unreachable, status(503), status(500), spec_answer())

    spec = fetch_spec(TARGET, "dpl_1", transport)

    assert spec == SPEC and spec.env == {"API_TOKEN": "tok-123"}
    assert len(seen) == 4
    assert {(r.method, str(r.url)) for r in seen} == {("GET", "http://api.test/v1/builds/dpl_1/spec")}
    assert {r.headers["authorization"] for r in seen} == {"Bearer g1.grant.sig"}


@pytest.mark.parametrize("code", [401, 403, 404, 409])
def test_a_refusal_fails_at_once_with_the_reason(code: int) -> None:
    transport, seen = api(status(code), spec_answer())

    with pytest.raises(ReportRejected, match=rf"refused spec: {code} .*m{code}"):
        fetch_spec(TARGET, "dpl_1", transport)
    assert len(seen) == 1


def test_an_api_that_stays_unavailable_fails_after_a_few_tries() -> None:
    transport, seen = api(status(503))
    with pytest.raises(ReportRejected, match="503"):
        fetch_spec(TARGET, "dpl_1", transport)
    assert len(seen) == 4

    transport, seen = api(unreachable)
    with pytest.raises(ReportRejected, match="did not answer spec"):
        fetch_spec(TARGET, "dpl_1", transport)
    assert len(seen) == 4


def test_a_spec_for_another_deployment_or_not_a_spec_is_refused() -> None:
    other = SPEC.model_copy(update={"deployment_id": "dpl_2"})
    with pytest.raises(ReportRejected, match="dpl_2"):
        fetch_spec(TARGET, "dpl_1", api(spec_answer(other))[0])
    with pytest.raises(ReportRejected, match="invalid build spec"):
        fetch_spec(TARGET, "dpl_1", api(lambda _: httpx.Response(200, json={"x": 1}))[0])


def test_a_local_build_reads_its_spec_from_the_environment_or_stdin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder.run, "fetch_spec", lambda *_: pytest.fail("fetched"))
    monkeypatch.setenv("BUILDSPACE_BUILD_SPEC", SPEC.model_dump_json())
    assert read_spec(TARGET) == SPEC  # a given spec wins, also with a grant
    assert read_spec(None) == SPEC

    monkeypatch.delenv("BUILDSPACE_BUILD_SPEC")
    monkeypatch.setattr("sys.stdin", io.StringIO(SPEC.model_dump_json()))
    assert read_spec(None) == SPEC


def test_a_remote_build_without_a_spec_fetches_the_one_of_its_deployment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[RemoteTarget, str]] = []

    def fetch(target: RemoteTarget, deployment_id: str) -> BuildSpec:
        asked.append((target, deployment_id))
        return SPEC

    monkeypatch.setattr(builder.run, "fetch_spec", fetch)
    monkeypatch.delenv("BUILDSPACE_BUILD_SPEC", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    monkeypatch.setenv("BUILDSPACE_DEPLOYMENT_ID", "dpl_1")
    assert read_spec(TARGET) == SPEC
    assert asked == [(TARGET, "dpl_1")]

    monkeypatch.delenv("BUILDSPACE_DEPLOYMENT_ID")
    with pytest.raises(NoSpec, match="BUILDSPACE_DEPLOYMENT_ID"):
        read_spec(TARGET)


def test_a_refused_fetch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> BuildSpec:
        raise ReportRejected("the API refused spec: 409 not running")

    monkeypatch.setattr(builder.run, "fetch_spec", refuse)
    monkeypatch.delenv("BUILDSPACE_BUILD_SPEC", raising=False)
    monkeypatch.setenv("BUILDSPACE_DEPLOYMENT_ID", "dpl_1")
    with pytest.raises(NoSpec, match="could not fetch the build spec: .*409 not running"):
        read_spec(TARGET)
