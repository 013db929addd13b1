"""reaper's import graph, drawn from the source: one way down, floor by floor, no loops.

Each module is parsed (``ast``; nothing is imported or run) and every
``import``/``from ... import`` of a ``reaper`` module is an edge, wherever it
stands (top level, inside a function, under ``TYPE_CHECKING``): a lazy
import is still a dependency. The floors, from the top:
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import reaper

ROOT = Path(reaper.__file__).parent

#: Module (or package) prefixes and their floor; a module may import only from
#: its own floor or below. The longest matching prefix decides.
FLOORS: dict[str, int] = {
    # 0: the foundation, which every floor may use.
    "reaper": 0,
    "reaper.model": 0,
    "reaper.canonical": 0,
    "reaper.config": 0,
    "reaper.conf": 0,
    "reaper.log": 0,
    "reaper.progress": 0,
    "reaper.cloud": 0,
    "reaper.budget": 0,
    "reaper.metrics": 0,
    "reaper.ids": 0,
    "reaper.credentials": 0,
    "reaper.keystone_access": 0,
    "reaper.sdnotify": 0,
    "reaper.shutdown": 0,
    "reaper.sealing": 0,
    "reaper.uuids": 0,
    "reaper.versiondocs": 0,
    # 1: persistence.
    "reaper.store": 1,
    # 2: the stages of the road.
    "reaper.events": 2,
    "reaper.inventory": 2,
    "reaper.policy": 2,
    "reaper.planner": 2,
    "reaper.reclaim": 2,
    "reaper.attachments": 2,
    "reaper.executor": 2,
    "reaper.actions": 2,
    "reaper.audit": 2,
    # 3: the road.
    "reaper.cleanup": 3,
    # 4: the callers.
    "reaper.api": 4,
    "reaper.controller": 4,
    "reaper.parts": 4,
    "reaper.policyholder": 4,
    "reaper.cli": 4,
    "reaper.configcheck": 4,
}

FLOOR_NAMES = ("foundation", "store", "stages", "road", "callers")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every reaper import in ``module``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "reaper":
                    target = _resolve(alias.name)
                    if target:
                        yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "reaper":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in MODULES else _resolve(source)
                if target:
                    yield target, node.lineno


GRAPH: dict[str, dict[str, int]] = {
    module: {target: line for target, line in imports_of(module, path) if target != module}
    for module, path in MODULES.items()
}


def floor(module: str) -> int | None:
    prefixes = [p for p in FLOORS if module == p or module.startswith(p + ".")]
    return FLOORS[max(prefixes, key=len)] if prefixes else None


def test_every_module_is_on_a_floor() -> None:
    # The bare "reaper" entry is the package's own __init__, not a catch-all.
    unplaced = [
        m
        for m in MODULES
        if m != "reaper"
        and not any(m.startswith(p + ".") or m == p for p in FLOORS if p != "reaper")
    ]
    assert unplaced == [], "put these modules on a floor in FLOORS: " + ", ".join(unplaced)


def _upward(graph: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{m} ({FLOOR_NAMES[floor(m) or 0]}) imports {target} "
        f"({FLOOR_NAMES[floor(target) or 0]}) at line {line}"
        for m, targets in graph.items()
        for target, line in targets.items()
        if (floor(target) or 0) > (floor(m) or 0)
    ]


def test_no_import_runs_back_up_a_floor() -> None:
    assert _upward(GRAPH) == []


def test_an_upward_import_is_caught() -> None:
    assert _upward({"reaper.store.plans": {"reaper.audit.chain": 7}}) == [
        "reaper.store.plans (store) imports reaper.audit.chain (stages) at line 7"
    ]
    assert _upward({"reaper.cleanup.worker": {"reaper.store": 1, "reaper.policy": 2}}) == []


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_another_in_a_loop() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, [["a", "b", "c"]]),
        ({"a": {"b": 1}, "b": {"a": 1}, "c": {"c": 1}}, [["a", "b"]]),
    ],
)
def test_the_loop_finder_finds_loops(graph: dict[str, dict[str, int]], expected: list) -> None:
    assert _cycles(graph) == expected


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks() -> None:
    # Drawn from real edges, so the checks above cannot pass on an empty graph.
    assert "reaper.store.migrate" in GRAPH["reaper.store"]  # imported inside Store.open
    assert "reaper.cleanup.worker" in GRAPH["reaper.controller"]
    assert "reaper.store.tombstones.claims" in GRAPH["reaper.store.tombstones.queries"]
