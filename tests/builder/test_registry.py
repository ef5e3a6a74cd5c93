"""The npm registry: which release a range picks, against the real registry.npmjs.org
(the failure cases, against a local server, are in test_tool_cache.py)."""

from __future__ import annotations

import pytest

from builder.registry import RegistryError, Release, newest, packument_url, releases
from schemas.node_ranges import RangeError


def _release(version: str, engines_node: str | None = None) -> Release:
    return Release("demo", version, f"https://example.test/demo-{version}.tgz",
                   "sha512-AAAA", engines_node)


def test_pnpm_9_picks_a_9x() -> None:
    picked = newest(releases("pnpm"), "9")
    assert picked is not None and picked.key[0] == 9
    assert picked.tarball.startswith("https://") and picked.integrity.startswith("sha512-")


def test_a_caret_range_stays_in_its_major() -> None:
    picked = newest(releases("pnpm"), "^8.6")
    assert picked is not None and picked.key[0] == 8 and picked.key >= (8, 6, 0)


def test_prereleases_are_left_out() -> None:
    assert all(r.version == ".".join(map(str, r.key)) for r in releases("pnpm"))


def test_old_node_gets_an_older_npm() -> None:
    found = releases("npm")
    for_16, for_22 = newest(found, "*", node=(16, 0, 0)), newest(found, "*", node=(22, 0, 0))
    assert for_16 is not None and for_22 is not None
    assert for_16.key < for_22.key


def test_scoped_names_keep_their_at_sign() -> None:
    assert packument_url("@yarnpkg/cli-dist", "https://registry.npmjs.org/") == \
        "https://registry.npmjs.org/@yarnpkg%2Fcli-dist"
    picked = newest(releases("@yarnpkg/cli-dist"), "4")
    assert picked is not None and picked.name == "@yarnpkg/cli-dist" and picked.key[0] == 4


def test_latest_and_star_take_the_highest() -> None:
    found = [_release("1.2.3"), _release("2.0.0"), _release("1.10.0")]
    assert newest(found, "latest") == newest(found, "*") == found[1]


def test_engines_filter_and_unreadable_engines_accept() -> None:
    found = [_release("1.0.0", ">=12"), _release("2.0.0", ">=20"),
             _release("3.0.0", "not a range ~~"), _release("4.0.0", ">=24")]
    picked = newest(found, "<4", node=(18, 0, 0))
    assert picked is not None and picked.version == "3.0.0"
    picked = newest(found, "<3", node=(18, 0, 0))
    assert picked is not None and picked.version == "1.0.0"
    assert newest(found, ">=5") is None


def test_an_unreadable_range_is_an_error() -> None:
    with pytest.raises(RangeError):
        newest([_release("1.0.0")], "one point oh")


@pytest.mark.parametrize("registry", ["http://registry.npmjs.org/", "ftp://127.0.0.1/",
                                      "http://10.0.0.1/"])
def test_plain_http_registries_are_refused(registry: str) -> None:
    with pytest.raises(RegistryError, match="https"):
        releases("pnpm", registry=registry)
