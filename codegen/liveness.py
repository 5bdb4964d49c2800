"""The one liveness analysis: which statements and names a set of outputs needs.

Used by generation (dead forward code is dropped), reverse mode (a statement is undone
only where a differentiated input reaches it and it reaches the output) and the split
of a module into forward and backward halves (the residuals, a layer's cache).  All
passes are single sweeps over the statements: linear in the program's size.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ir import Program, Stmt, names_in


def live_names(stmts: Iterable[Stmt], outputs: Iterable[str]) -> set[str]:
    """Every name the ``outputs`` depend on through ``stmts`` (a backward sweep)."""
    live = set(outputs)
    for stmt in reversed(tuple(stmts)):
        if stmt.target in live:
            live.update(names_in(stmt.expr))
    return live


def prune(program: Program) -> Program:
    """The program without the statements its outputs do not depend on."""
    live = set(program.outputs)
    keep: list[Stmt] = []
    for stmt in reversed(program.stmts):
        if stmt.target in live:
            keep.append(stmt)
            live.update(names_in(stmt.expr))
    kept = [*program.inputs, *(stmt.target for stmt in keep)]
    types = {name: program.types[name] for name in kept if name in program.types}
    return Program(program.inputs, tuple(reversed(keep)), program.outputs, types=types)


def reads(stmts: Iterable[Stmt]) -> list[str]:
    """Names ``stmts`` read before (or without) assigning them, in first-read order:
    what a block of code needs from outside."""
    defined: set[str] = set()
    found: dict[str, None] = {}
    for stmt in stmts:
        for name in names_in(stmt.expr):
            if name not in defined:
                found.setdefault(name, None)
        if stmt.accumulate and stmt.target not in defined:
            found.setdefault(stmt.target, None)
        defined.add(stmt.target)
    return list(found)
