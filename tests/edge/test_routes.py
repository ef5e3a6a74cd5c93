"""RouteTable: applying route records and resolving Host headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.routes import RouteTable
from tests.edge.support import route


@pytest.fixture
def table() -> RouteTable:
    table = RouteTable("localhost")
    table.apply("my-site", route("my-site", "dep-1"))
    table.apply("0123456789ab-my-site", route("0123456789ab-my-site", "dep-0"))
    table.apply("www.Example.com", route("www.example.com", "dep-2"))
    return table


@pytest.mark.parametrize("host, deployment", [
    ("my-site.localhost", "dep-1"),
    ("MY-SITE.LOCALHOST", "dep-1"),
    ("my-site.localhost:8000", "dep-1"),
    ("my-site.localhost.", "dep-1"),
    (" my-site.localhost ", "dep-1"),
    ("0123456789ab-my-site.localhost", "dep-0"),
    ("www.example.com", "dep-2"),
    ("WWW.EXAMPLE.COM:443", "dep-2"),
    ("www.example.com.", "dep-2"),
])
def test_lookup_finds_the_route(table: RouteTable, host: str, deployment: str) -> None:
    found = table.lookup(host)
    assert found is not None and found.deployment_id == deployment


@pytest.mark.parametrize("host", [
    "", "localhost", "my-site", "my-site:8000", "other.localhost", "a.my-site.localhost",
    "my-site.localhost.evil.com", "my-site.example.com", "[::1]:8000", "example.com",
])
def test_lookup_misses(table: RouteTable, host: str) -> None:
    assert table.lookup(host) is None


def test_lookup_under_a_custom_base_domain() -> None:
    table = RouteTable("Apps.Example.org")
    table.apply("blog", route("blog", "dep-b"))
    assert table.lookup("blog.apps.example.org:8443") is not None
    assert table.lookup("blog.localhost") is None


def test_tombstone_removes_and_is_idempotent(table: RouteTable) -> None:
    table.apply("my-site", None)
    table.apply("my-site", None)
    table.apply("never-there", None)
    assert table.lookup("my-site.localhost") is None
    assert len(table) == 2


def test_update_replaces_the_route(table: RouteTable) -> None:
    table.apply("my-site", route("my-site", "dep-9", 9))
    assert table.lookup("my-site.localhost").number == 9  # type: ignore[union-attr]


@pytest.mark.parametrize("value", [b"", b"{", b"null", b'{"hostname": "x"}',
                                   route("x", "bad/../id"), route("x", "dep\r\nx-evil: 1")])
def test_malformed_values_are_refused_and_change_nothing(table: RouteTable, value: bytes) -> None:
    with pytest.raises((ValueError, ValidationError)):
        table.apply("my-site", value)
    assert table.lookup("my-site.localhost").deployment_id == "dep-1"  # type: ignore[union-attr]
