"""schemathesis over the API's own OpenAPI, signed in, against a platform of its own:
whatever each operation is sent (inputs generated from its schema by hypothesis), the
answer is never a server error. (schemathesis 4.32's pytest plugin does not run under
pytest 9, so the operations' strategies are driven with hypothesis directly.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tests.support.platform import Platform, running_platform

EXAMPLES = 8
SKIPPED = {("POST", "/v1/auth/logout")}  # it would end the token every case is sent with


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(Path(tmp_path_factory.mktemp("fuzzed"))) as platform:
        yield platform


def test_no_input_makes_a_server_error(fuzzed: Platform) -> None:
    with fuzzed.client() as c:
        made = c.post("/v1/tokens", json={"name": "fuzz", "scopes": ["read", "deploy",
                                          "write", "admin"], "expires_in_days": "never"})
    assert made.status_code == 201, made.text
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    schema = schemathesis.openapi.from_url(f"{fuzzed.api}/openapi.json")
    errors: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation's schema can be used
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        tried += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case: Any) -> None:
            response = case.call(base_url=fuzzed.api, headers=headers, timeout=30)
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} "
                              f"{case.query or ''} {str(case.body)[:200]}: "
                              f"{response.status_code} {response.text[:300]}")
        call()
    assert tried > 50
    assert not errors, "\n".join(errors[:20])
