"""The primitives of the flat-program IR and their meaning as SymPy functions.

``SYMPY`` is the single statement of what each primitive computes. It serves the
constant folder (:mod:`codegen.linearize`), the rule check in the tests (every rule in
:mod:`codegen.rules` must agree with ``sympy.diff`` of these), and :func:`to_sympy`, the
oracle that turns a whole program into one SymPy expression.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import sympy

from codegen.ir import Const, Expr, Op, Program, Var

VARIADIC = -1

#: primitive -> number of arguments (VARIADIC: two or more)
ARITY: dict[str, int] = {
    "add": 2,
    "sub": 2,
    "mul": 2,
    "div": 2,
    "pow": 2,
    "neg": 1,
    "exp": 1,
    "log": 1,
    "sqrt": 1,
    "sin": 1,
    "cos": 1,
    "tan": 1,
    "tanh": 1,
    "sigmoid": 1,
    "relu": 1,
    "abs": 1,
    "max": VARIADIC,
    "min": VARIADIC,
    # used by derivative code: piecewise-constant, so their derivative is zero
    "gt": 2,
    "lt": 2,
    "eq": 2,
    "sign": 1,
    "zeros_like": 1,
    "broadcast_like": 2,
}

#: functions a user may call, by the name they call them
USER_FUNCTIONS: dict[str, str] = {
    name: name
    for name in ("exp log sqrt sin cos tan tanh sigmoid relu abs max min".split())
}


def _piecewise(cond: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((sympy.Integer(1), cond), (sympy.Integer(0), True))


SYMPY: dict[str, Callable[..., sympy.Expr]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "tanh": sympy.tanh,
    "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)),
    "relu": lambda a: sympy.Max(0, a),
    "abs": sympy.Abs,
    "max": sympy.Max,
    "min": sympy.Min,
    "gt": lambda a, b: _piecewise(sympy.StrictGreaterThan(a, b)),
    "lt": lambda a, b: _piecewise(sympy.StrictLessThan(a, b)),
    "eq": lambda a, b: _piecewise(sympy.Eq(a, b)),
    "sign": sympy.sign,
    "zeros_like": lambda a: sympy.Integer(0),
    "broadcast_like": lambda a, b: a,
}


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
            done[id(node)] = SYMPY[node.prim](*args)
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


def is_op(expr: Expr, prim: str) -> bool:
    return isinstance(expr, Op) and expr.prim == prim
