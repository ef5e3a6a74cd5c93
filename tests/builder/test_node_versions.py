"""Node.js versions: what a project asks for, and the ranges it can write."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.node_versions import SETTING, requested_node
from schemas.node_ranges import RangeError, parse_range


@pytest.mark.parametrize(("wanted", "yes", "no"), [
    ("20", ["20.0.0", "20.20.2"], ["19.9.9", "21.0.0"]),
    ("v20.11.1", ["20.11.1"], ["20.11.2"]),
    ("20.x", ["20.1.0"], ["21.0.0"]),
    ("18.*", ["18.0.0"], ["20.0.0"]),
    ("^18.17.0", ["18.17.0", "18.20.1"], ["18.16.9", "19.0.0"]),
    ("~20.1", ["20.1.9"], ["20.2.0"]),
    ("~20.1.3", ["20.1.3"], ["20.1.2", "20.2.0"]),
    (">=18", ["18.0.0", "22.1.0"], ["16.20.0"]),
    (">=18 <21", ["20.20.2"], ["21.0.0", "17.9.0"]),
    (">=18.0.0 <=20", ["20.99.0"], ["21.0.0"]),
    (">20", ["21.0.0"], ["20.99.0"]),
    ("<20", ["19.9.0"], ["20.0.0"]),
    ("18 - 20", ["18.0.0", "20.5.0"], ["21.0.0"]),
    ("^16 || ^18 || >=20", ["16.1.0", "18.2.0", "22.0.0"], ["17.0.0", "19.0.0"]),
    ("lts/iron", ["20.1.0"], ["18.0.0"]),
    ("lts/*", ["4.0.0", "22.0.0"], []),
    ("node", ["22.0.0"], []),
    ("*", ["1.0.0"], []),
])
def test_ranges(wanted: str, yes: list[str], no: list[str]):
    test = parse_range(wanted)
    def version(text: str) -> tuple[int, int, int]:
        major, minor, patch = (int(p) for p in text.split("."))
        return major, minor, patch

    assert [v for v in yes if test(version(v))] == yes
    assert [v for v in no if test(version(v))] == []


@pytest.mark.parametrize("wanted", ["banana", ">=", "lts/nope", "1.2.3.4", "x" * 300])
def test_unreadable_ranges_are_refused(wanted: str):
    with pytest.raises(RangeError):
        parse_range(wanted)



def test_nvmrc_wins_over_node_version_and_engines(tmp_path: Path):
    package = {"engines": {"node": ">=18"}}
    assert requested_node(tmp_path, package) == ("engines.node", ">=18")
    (tmp_path / ".node-version").write_text("20.1\n")
    assert requested_node(tmp_path, package) == (".node-version", "20.1")
    (tmp_path / ".nvmrc").write_text("# pinned\nlts/iron # current LTS\n")
    assert requested_node(tmp_path, package) == (".nvmrc", "lts/iron")
    assert requested_node(tmp_path / "none", None) is None


def test_the_setting_wins_over_every_file_then_each_file_in_turn(tmp_path: Path):
    """setting > .nvmrc > .node-version > engines.node > None (the default LTS line,
    chosen by ``builder.provision.choose_node``)."""
    package = {"engines": {"node": ">=18"}}
    (tmp_path / ".nvmrc").write_text("20\n")
    (tmp_path / ".node-version").write_text("18\n")
    assert requested_node(tmp_path, package, "22.x") == (SETTING, "22.x")
    assert requested_node(tmp_path, package, None) == (".nvmrc", "20")
    (tmp_path / ".nvmrc").unlink()
    assert requested_node(tmp_path, package, "lts") == (SETTING, "lts")
    assert requested_node(tmp_path, package, None) == (".node-version", "18")
    (tmp_path / ".node-version").unlink()
    assert requested_node(tmp_path, package, " 22 ") == (SETTING, "22")
    assert requested_node(tmp_path, package, None) == ("engines.node", ">=18")
    assert requested_node(tmp_path, {}, "20") == (SETTING, "20")
    assert requested_node(tmp_path, {}, None) is None
