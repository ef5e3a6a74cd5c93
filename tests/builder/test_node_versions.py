"""Node.js versions: what a project asks for, and which installed version it gets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from builder.node_versions import (
    NodeInstall,
    RangeError,
    choose_node,
    installed_nodes,
    parse_range,
    requested_node,
)

INSTALLED = [NodeInstall((20, 20, 2), "/usr/bin"), NodeInstall((18, 19, 1), "/opt/node/18/bin"),
             NodeInstall((22, 3, 0), "/opt/node/22/bin")]


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
    version = lambda text: tuple(int(p) for p in text.split("."))  # noqa: E731
    assert [v for v in yes if test(version(v))] == yes
    assert [v for v in no if test(version(v))] == []


@pytest.mark.parametrize("wanted", ["banana", ">=", "lts/nope", "1.2.3.4", "x" * 300])
def test_unreadable_ranges_are_refused(wanted: str):
    with pytest.raises(RangeError):
        parse_range(wanted)


def test_the_newest_matching_installed_version_is_chosen():
    choice = choose_node(("engines.node", ">=18"), INSTALLED)
    assert choice.install == INSTALLED[2]
    assert choice.message == "Node.js 22.3.0 (engines.node wants >=18)"
    assert choose_node((".nvmrc", "18"), INSTALLED).install == INSTALLED[1]


def test_no_request_means_the_default():
    assert choose_node(None, INSTALLED).message == "Node.js 20.20.2"


def test_a_version_that_is_not_installed_is_said_so():
    choice = choose_node((".nvmrc", "16"), INSTALLED)
    assert choice.install == INSTALLED[0]
    assert choice.message == "Node.js 16 (.nvmrc) is not installed here; using Node.js 20.20.2"
    unreadable = choose_node((".node-version", "banana"), INSTALLED)
    assert unreadable.message == "Node.js 20.20.2 (could not read .node-version 'banana')"
    assert choose_node(None, []).install is None


def test_nvmrc_wins_over_node_version_and_engines(tmp_path: Path):
    package = {"engines": {"node": ">=18"}}
    assert requested_node(tmp_path, package) == ("engines.node", ">=18")
    (tmp_path / ".node-version").write_text("20.1\n")
    assert requested_node(tmp_path, package) == (".node-version", "20.1")
    (tmp_path / ".nvmrc").write_text("# pinned\nlts/iron # current LTS\n")
    assert requested_node(tmp_path, package) == (".nvmrc", "lts/iron")
    assert requested_node(tmp_path / "none", None) is None


def test_installed_versions_are_found_in_the_search_directories(tmp_path: Path):
    for version in ("18.20.4", "22.11.0"):
        bin_dir = tmp_path / "opt" / version / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "node").write_text(f"#!/bin/sh\necho v{version}\n")
        os.chmod(bin_dir / "node", 0o755)
    found = installed_nodes(["/usr/bin", str(tmp_path / "opt" / "*" / "bin")])
    assert found[0].bin_dir == "/usr/bin" and found[0].version >= (18, 0, 0)
    assert [n.shown for n in found[1:]] == ["18.20.4", "22.11.0"]
    assert json.dumps([n.bin_dir for n in found])
