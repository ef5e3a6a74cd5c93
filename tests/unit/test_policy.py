"""Every route has a rule in the one policy table (``infra.compose.policy``), and the
table names no route that is gone. Routes that keep their own credential or none say
who may call them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.compose.api import create_api
from infra.compose.policy import POLICY, route_key

SCOPES = {"read", "deploy", "write", "admin"}


def routes(items: list[Any]) -> Iterator[tuple[str, str]]:
    for route in items:
        if hasattr(route, "original_router"):  # an included router
            yield from routes(route.original_router.routes)
        elif hasattr(route, "path"):
            methods = getattr(route, "methods", None) or {"WS"}
            yield from ((m, route.path) for m in sorted(methods - {"HEAD"}))


def test_every_route_has_a_rule_and_every_rule_a_route():
    served = set(routes(create_api(None).routes))  # type: ignore[arg-type]
    assert served - set(POLICY) == set(), "routes without a rule"
    assert set(POLICY) - served == set(), "rules for routes that are gone"


def test_routes_without_a_token_say_who_may_call_them():
    for key, rule in POLICY.items():
        if rule.needs in ("public", "own"):
            assert rule.why, key
        else:
            assert rule.needs in SCOPES | {"signed-in"}, key
        if rule.on != "none":
            assert rule.needs in SCOPES, key


def test_resources_in_the_path_are_the_ones_checked():
    for (method, path), rule in POLICY.items():
        if rule.on == "project":
            assert "{project_id}" in path, path
        if rule.on == "deployment":
            assert "{deployment_id}" in path, path
        if rule.needs in SCOPES and rule.on == "none":
            assert (method, path) in {("GET", "/v1/projects"), ("POST", "/v1/tokens"),
                                      ("GET", "/v1/tokens"),
                                      ("DELETE", "/v1/tokens/{token_id}"),
                                      ("POST", "/v1/replays"),
                                      ("GET", "/v1/dead-letters"),
                                      ("GET", "/v1/dead-letters/{letter_id}"),
                                      ("POST", "/v1/dead-letters/{letter_id}/redrive")}, path


def test_a_route_key_is_its_method_and_template():
    class Route:
        path = "/v1/projects/{project_id}"

    class Connection:
        scope = {"type": "http", "method": "GET", "route": Route()}

    assert route_key(Connection()) == ("GET", "/v1/projects/{project_id}")  # type: ignore[arg-type]
