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

from codegen.ir import Const, Expr, Program, Var

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
    # stable primitives: no overflow or cancellation across float64's range
    "softplus": 1,  # log(1 + exp(x))
    "log_sigmoid": 1,  # log(sigmoid(x))
    "log1p": 1,  # log(1 + x)
    "expm1": 1,  # exp(x) - 1
    "logaddexp": 2,  # log(exp(a) + exp(b))
    "max": VARIADIC,
    "min": VARIADIC,
    # used by derivative code: piecewise-constant, so their derivative is zero
    "gt": 2,
    "lt": 2,
    "eq": 2,
    "sign": 1,
    "zeros_like": 1,
    "copy": 1,  # a fresh array with the same values
    "broadcast_like": 2,
    "as_float": 1,  # a number: float(x)
}

ARITY.update(
    {
        # arrays: linear algebra, reductions, layout, indexing
        "broadcast_to": 2,  # np.broadcast_to(g, like.shape): g checked against a shape
        "matmul": 2,  # matrix @ matrix
        "matvec": 2,  # matrix @ vector
        "vecmat": 2,  # vector @ matrix
        "dot": 2,  # vector @ vector
        "outer": 2,
        "sum": 1,
        "mean": 1,
        "amax": 1,
        "amin": 1,
        "shift": 1,  # a.max(axis, keepdims=True) as a stability shift: no gradient
        "squeeze": 1,
        "transpose": 1,
        "reshape": VARIADIC,  # reshape(a, N, 1)
        "reshape_like": 2,  # a.reshape(like.shape): the adjoint of reshape
        "expand": 2,  # broadcast a reduced gradient back like arg 2: the adjoint of sum
        "expand_dims": 1,
        "count": 1,  # how many elements a reduction over ``axis`` combines
        "gather": VARIADIC,  # a[i, j] with integer arrays
        "scatter_add": VARIADIC,  # backward of gather
        "slice": 1,  # a[1:3, 0]: static basic indexing (params: index text)
        "unslice": 2,  # zeros like arg 1 with arg 2 written at the index: slice's adjoint
        "where": 3,
        "ge": 2,
        "le": 2,
        "ne": 2,
        "arange": 1,
        "dim": 1,  # a.shape[k]
        "norm": 1,  # the Euclidean norm over ``axis`` (all by default), ``keepdims``
    }
)

#: primitives whose meaning involves shapes: checked by finite differences and the
#: dot-product test on generated code rather than by ``sympy.diff``
ARRAY_PRIMITIVES = frozenset(
    "matmul matvec vecmat dot outer sum mean amax amin shift squeeze "
    "transpose reshape "
    "reshape_like "
    "expand expand_dims count gather scatter_add slice unslice arange dim "
    "broadcast_to norm".split()
)

MAX_EXTREMUM_ARGS = 32

#: functions a user may call: (fewest args, most args or None, keywords allowed)
FUNCTIONS: dict[str, tuple[int, int | None, frozenset[str]]] = {
    **{
        name: (1, 1, frozenset())
        for name in (
            "exp log sqrt sin cos tan tanh sigmoid relu abs "
            "softplus log_sigmoid log1p expm1"
        ).split()
    },
    "logaddexp": (2, 2, frozenset()),
    "norm": (1, 1, frozenset({"axis", "keepdims"})),
    # n-ary max/min: each argument's gradient counts the ties among all n (n**2
    # terms in all), so n is capped; nest them for more: max(max(...), ...)
    "max": (1, MAX_EXTREMUM_ARGS, frozenset({"axis", "keepdims"})),
    "min": (1, MAX_EXTREMUM_ARGS, frozenset({"axis", "keepdims"})),
    "maximum": (2, 2, frozenset()),
    "minimum": (2, 2, frozenset()),
    "sum": (1, 1, frozenset({"axis", "keepdims"})),
    "mean": (1, 1, frozenset({"axis", "keepdims"})),
    "logsumexp": (1, 1, frozenset({"axis", "keepdims"})),
    "softmax": (1, 1, frozenset({"axis"})),
    "log_softmax": (1, 1, frozenset({"axis"})),
    "transpose": (1, 1, frozenset()),
    "reshape": (2, None, frozenset()),
    "arange": (1, 1, frozenset()),
    "where": (3, 3, frozenset()),
    # grad(y, x): the gradient of an earlier scalar value y with respect to input x,
    # backpropagated inside the program (linearize writes the inner backward out)
    "grad": (2, 2, frozenset()),
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
    "softplus": lambda a: sympy.log(1 + sympy.exp(a)),
    "log_sigmoid": lambda a: -sympy.log(1 + sympy.exp(-a)),
    "log1p": lambda a: sympy.log(1 + a),
    "expm1": lambda a: sympy.exp(a) - 1,
    "logaddexp": lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)),
    "max": sympy.Max,
    "min": sympy.Min,
    "gt": lambda a, b: _piecewise(sympy.StrictGreaterThan(a, b)),
    "lt": lambda a, b: _piecewise(sympy.StrictLessThan(a, b)),
    "eq": lambda a, b: _piecewise(sympy.Eq(a, b)),
    "sign": sympy.sign,
    "ge": lambda a, b: _piecewise(sympy.GreaterThan(a, b)),
    "le": lambda a, b: _piecewise(sympy.LessThan(a, b)),
    "ne": lambda a, b: _piecewise(sympy.Ne(a, b)),
    "where": lambda c, a, b: sympy.Piecewise((a, sympy.Ne(c, 0)), (b, True)),
    "zeros_like": lambda a: sympy.Integer(0),
    "copy": lambda a: a,
    "broadcast_like": lambda a, b: a,
    "as_float": lambda a: a,
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
