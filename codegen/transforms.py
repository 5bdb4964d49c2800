"""Small program -> program transforms that make any program reverse-mode ready.

:func:`codegen.reverse.reverse` needs a *flat, single-assignment* program: one primitive
over atoms per statement, each name assigned once.  The forward programs built by
:mod:`codegen.linearize` are already like that; the programs reverse mode *produces* are
not (backward statements are small trees, and fan-out accumulates with ``dx = dx + ...``).
``prepare = flatten . ssa`` turns them back into that form, so a reverse-mode program can
be differentiated again: that is how second order is built.
"""

from __future__ import annotations

from .ir import (
    SCALAR,
    Atom,
    Const,
    Expr,
    Op,
    Program,
    Stmt,
    Type,
    Var,
    all_names,
)
from .naming import Namer
from .typecheck import const_type, infer


def _rename(expr: Expr, current: dict[str, str]) -> Expr:
    if isinstance(expr, Var):
        return Var(current.get(expr.name, expr.name))
    if isinstance(expr, Op):
        return Op(expr.prim, tuple(_rename(a, current) for a in expr.args), expr.params)
    return expr


def ssa(program: Program, namer: Namer | None = None) -> Program:
    """Give every assignment its own name (``dx = dx + e`` becomes ``dx_2 = dx + e``);
    ``namer`` is the module's (one is made from the program's names if not given)."""
    namer = namer or Namer(all_names(program))
    current = {name: name for name in program.inputs}
    types = dict(program.types)
    stmts: list[Stmt] = []
    for stmt in program.stmts:
        expr = _rename(stmt.expr, current)
        if stmt.accumulate:
            expr = Op("add", (Var(current[stmt.target]), expr))
        name = stmt.target
        if name in current:
            name = namer.fresh(stmt.target)
            if stmt.target in types:
                types[name] = types[stmt.target]
        current[stmt.target] = name
        stmts.append(Stmt(name, expr, note=stmt.note, origin=stmt.origin))
    outputs = tuple(current.get(name, name) for name in program.outputs)
    return Program(program.inputs, tuple(stmts), outputs, types=types)


def flatten(program: Program, namer: Namer | None = None) -> Program:
    """One primitive over atoms per statement: inner trees get fresh temporaries."""
    namer = namer or Namer(all_names(program))
    stmts: list[Stmt] = []
    types = dict(program.types)
    typed = bool(types)
    for stmt in program.stmts:
        if not isinstance(stmt.expr, Op):
            stmts.append(stmt)
            continue
        # post-order without recursion: every inner Op becomes a statement
        done: dict[int, Atom] = {}
        stack: list[tuple[Expr, bool]] = [(stmt.expr, False)]
        while stack:
            node, expanded = stack.pop()
            if not isinstance(node, Op):
                assert isinstance(node, Var | Const)
                done[id(node)] = node
            elif not expanded:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args))
            elif node is stmt.expr:
                args = tuple(done[id(a)] for a in node.args)
                stmts.append(
                    Stmt(
                        stmt.target,
                        Op(node.prim, args, node.params),
                        stmt.accumulate,
                        stmt.note,
                        stmt.origin,
                    )
                )
            else:
                # a temporary of the block: same origin, so its comment stays on top
                name = namer.temp()
                args = tuple(done[id(a)] for a in node.args)
                if typed:  # minted with its type: no name defaults to a scalar
                    types[name] = infer(
                        node.prim,
                        [_type(a, types) for a in args],
                        dict(node.params),
                        f"flattening '{stmt.target}'",
                        "<flatten>",
                        args,
                    )
                stmts.append(
                    Stmt(name, Op(node.prim, args, node.params), origin=stmt.origin)
                )
                done[id(node)] = Var(name)
    return Program(program.inputs, tuple(stmts), program.outputs, types=types)


def _type(atom: Atom, types: dict[str, Type]) -> Type:
    if isinstance(atom, Const):
        return const_type(atom)
    return types.get(atom.name, SCALAR)


def prepare(program: Program, namer: Namer | None = None) -> Program:
    """Flat and single-assignment: what :func:`codegen.reverse.reverse` accepts."""
    namer = namer or Namer(all_names(program))
    return flatten(ssa(program, namer), namer)
