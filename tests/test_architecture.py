"""The package's layers only point down, and no module imports pickle.

Every import of every module is read from its syntax tree (module level and inside functions), so a
lazy import cannot hide an arrow that points up. The layers, lowest first (ARCHITECTURE.md says why):

    base → metrics → darknet → logs → config → templates → workspace → runs → executors
         → evaluation → views → shapes → demo → cli

A room may import its own modules and any room of a lower layer, never one of the same layer or
above (`orchestrator.__main__` sits beside the CLI it starts). Import cycles between modules are
refused too, and so is pickle: a cache file that unpickles runs whatever code was planted in it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "orchestrator"

# One entry a layer, lowest first; a layer lists its rooms (a package or a top-level module).
LAYERS: list[tuple[str, ...]] = [
    ("__init__",),
    ("base",),
    ("metrics",),
    ("darknet",),
    ("logs",),
    ("config",),
    ("templates",),
    ("workspace",),
    ("runs",),
    ("executors",),
    ("evaluation",),
    ("views",),
    ("shapes",),
    ("demo",),
    ("cli", "__main__"),
]
# Imports between rooms of one layer that are allowed: (importer, imported).
LATERAL: set[tuple[str, str]] = {("__main__", "cli")}

RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def room_of(module: str) -> str:
    """`orchestrator.metrics.coco` → `metrics`; `orchestrator` → `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(
    source: str, module: str, is_package: bool, runtime_only: bool = False, modules: frozenset[str] = frozenset()
) -> set[str]:
    """Every module that `source` (the text of `module`) imports, at any depth, absolute or relative.

    `from package import name` counts as importing `package.name` when that is one of `modules`, and
    as importing `package` itself otherwise (the name is then an attribute of the package).

    With `runtime_only`, imports under `if TYPE_CHECKING:` are left out: they never run, so they
    cannot close an import cycle (they still count as arrows between layers).
    """
    here = module.split(".")
    package = here if is_package else here[:-1]
    found: set[str] = set()
    for node in walk(ast.parse(source), runtime_only):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            named = {f"{prefix}.{alias.name}" for alias in node.names}
            found.update(named & modules)
            if named - modules:
                found.add(prefix)
    return found


def walk(tree: ast.AST, skip_type_checking: bool) -> list[ast.AST]:
    """`ast.walk`, optionally without the bodies of `if TYPE_CHECKING:` blocks."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if skip_type_checking and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


@functools.cache
def package_modules(runtime_only: bool = False) -> dict[str, frozenset[str]]:
    """Each module of the package → the modules it imports (of the package, or outside it)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    names = frozenset(module_name(path) for path in paths)
    graph = {}
    for path in paths:
        source = path.read_text(encoding="utf-8")
        imported = imports_of(source, module_name(path), path.name == "__init__.py", runtime_only, names)
        graph[module_name(path)] = frozenset(imported)
    return graph


def test_every_room_has_a_layer() -> None:
    rooms = {room_of(module) for module in package_modules()}
    assert rooms <= set(RANK), f"rooms without a layer in this test: {sorted(rooms - set(RANK))}"


def test_imports_only_point_down() -> None:
    upward = []
    for module, imported in package_modules().items():
        importer = room_of(module)
        for target in imported:
            if target != "orchestrator" and not target.startswith("orchestrator."):
                continue
            room = room_of(target)
            if room == importer or room == "__init__" or (importer, room) in LATERAL:
                continue
            if RANK[room] >= RANK[importer]:
                upward.append(f"{module} imports {target}")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_modules() -> None:
    modules = package_modules(runtime_only=True)
    graph = {module: {target for target in imported if target in modules} for module, imported in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` as a list of nodes (first == last), or None; iterative depth-first search.

    A package's `__init__` importing its own submodules is not a cycle by itself: the edge from a
    submodule back to its package's `__init__` only counts when the submodule names the package.
    """
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in graph:
        if colour[start] != WHITE:
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, todo = stack[-1]
            if not todo:
                colour[node] = BLACK
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if colour[nxt] == GREY:
                return path[path.index(nxt) :] + [nxt]
            if colour[nxt] == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                stack.append((nxt, sorted(graph[nxt])))
    return None


@pytest.mark.parametrize("banned", ["pickle", "_pickle", "dill", "shelve", "marshal"])
def test_no_module_unpickles(banned: str) -> None:
    users = [module for module, imported in package_modules().items() if banned in imported]
    assert not users, f"{banned} imported by {users}: a planted cache file would run code"


def test_the_checker_sees_lazy_and_relative_imports() -> None:
    """The checks above can fail: imports inside functions and relative imports are both seen."""
    source = "def f():\n    import pickle\n    from ..views import report\n    from . import store, Thing\n"
    modules = frozenset({"orchestrator.views.report", "orchestrator.evaluation.store"})
    seen = imports_of(source, "orchestrator.evaluation.passes", is_package=False, modules=modules)
    assert seen == {"pickle", "orchestrator.views.report", "orchestrator.evaluation.store", "orchestrator.evaluation"}
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import orchestrator.views\n"
    assert "orchestrator.views" in imports_of(typed, "orchestrator.base.x", is_package=False)
    assert "orchestrator.views" not in imports_of(typed, "orchestrator.base.x", is_package=False, runtime_only=True)
