"""Dependencies point one way (the rule in the README): ``schemas`` is the ground of
everything; ``infra`` (settings, connections, adapters) stands on it; the roles stand on
both; ``infra.compose`` sits above them all and nothing imports it. Read from the source
with ``ast``, imports inside functions included: none of ours may hide there to dodge a
cycle, except in the composition, which loads each process role's libraries only in the
process that runs it."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("schemas", "infra", "commands", "projections", "streams", "builder", "edge")
# What each layer may import (besides the standard library and third parties).
ALLOWED = {
    "schemas": {"schemas"},
    "infra": {"schemas", "infra"},
    "builder": {"schemas", "infra", "builder"},
    "edge": {"schemas", "infra", "edge"},
    "projections": {"schemas", "infra", "projections"},
    "commands": {"schemas", "infra", "commands", "projections"},
    "streams": {"schemas", "infra", "streams", "commands", "projections"},
    "infra.compose": set(OURS) | {"infra.compose"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(p for p in parts if p != "__init__")] = path
    return found


def layer(module: str) -> str:
    return "infra.compose" if module.startswith("infra.compose") else module.split(".")[0]


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for each import of ours."""
    tree = ast.parse(path.read_text())
    found = []
    functions = [n for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(n, id(node) in nested) for n in names if n.split(".")[0] in OURS]
    return found


@functools.cache
def edges() -> list[tuple[str, str, bool]]:
    return [(module, target, hidden) for module, path in modules().items()
            for target, hidden in imports(path)]


@pytest.mark.parametrize("module", sorted(modules()))
def test_each_module_imports_only_what_its_layer_may(module: str):
    wrong = [target for source, target, _ in edges() if source == module
             and layer(target) not in ALLOWED[layer(module)]]
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}"


def test_no_import_of_ours_hides_in_a_function_outside_the_composition():
    hidden = [(s, t) for s, t, inside in edges() if inside and layer(s) != "infra.compose"]
    assert not hidden, hidden


def test_nothing_but_entry_points_imports_the_composition():
    users = {s for s, t, _ in edges() if layer(t) == "infra.compose"}
    assert {layer(u) for u in users} <= {"infra.compose"}, users
