"""The modules of codegen import one another without a circle: every import counts,
those under ``if TYPE_CHECKING:`` and those inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import codegen

PACKAGE = Path(codegen.__file__).resolve().parent

#: circles known and left to other work, each as the set of its modules
KNOWN: frozenset[frozenset[str]] = frozenset()


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The codegen modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            # relative: ``from .x import y`` and ``from . import x``
            base = f"codegen.{node.module}" if node.module else "codegen"
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "codegen" and len(parts) > 1 and parts[1] in modules:
                found.add(parts[1])
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: _imports(PACKAGE / f"{m}.py", modules) - {m} for m in sorted(modules)}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import path that closes on itself per circle found (iterative DFS)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if root in state:
            continue
        path = [root]
        stack = [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                found.append(path[path.index(child) :] + [child])
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph[child])))
    return found


def test_the_import_graph_is_read_from_the_sources() -> None:
    graph = import_graph()
    assert "generate" in graph and {"modes", "module", "autograd"} <= graph["generate"]
    assert "passes" in graph["generate"]  # from codegen import passes, stable


def test_circles_are_found() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circle_among_codegen_modules() -> None:
    found = [c for c in circles(import_graph()) if frozenset(c) not in KNOWN]
    assert found == []
