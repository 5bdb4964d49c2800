"""Programs as SymPy expressions: the oracle that states what a program computes, from
each primitive's meaning in its record (:mod:`codegen.primitives`)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import sympy

from .ir import Const, Expr, Program, Var
from .primitives import PRIMITIVES


def const_to_sympy(const: Const) -> sympy.Expr:
    if const.text == "pi":
        return sympy.pi
    value = const.value
    if isinstance(value, int):
        return sympy.Integer(value)
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    return sympy.Float(value)


def expr_to_sympy(expr: Expr, env: dict[str, sympy.Expr]) -> sympy.Expr:
    """An IR expression tree as SymPy, with ``env`` giving each variable (iterative)."""
    done: dict[int, sympy.Expr] = {}
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, Var):
            done[id(node)] = env[node.name]
        elif isinstance(node, Const):
            done[id(node)] = const_to_sympy(node)
        elif expanded:
            args = [done[id(a)] for a in node.args]
            done[id(node)] = meaning(node.prim)(*args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
    return done[id(expr)]


def to_sympy(
    program: Program, symbols: dict[str, sympy.Symbol] | None = None
) -> dict[str, sympy.Expr]:
    """Every name of a program as a SymPy expression of its inputs (the test oracle)."""
    env: dict[str, sympy.Expr] = {}
    for name in program.inputs:
        env[name] = (symbols or {}).get(name, sympy.Symbol(name, real=True))
    for stmt in program.stmts:
        value = expr_to_sympy(stmt.expr, env)
        env[stmt.target] = env[stmt.target] + value if stmt.accumulate else value
    return env


def meaning(prim: str) -> Callable[..., sympy.Expr]:
    """The SymPy function a primitive computes (a ``KeyError`` for array primitives,
    whose meaning involves shapes)."""
    function = PRIMITIVES[prim].meaning
    if function is None:
        raise KeyError(f"'{prim}' is an array primitive: it has no SymPy meaning")
    return function
