"""THE table of derivative rules: one small function per primitive.

Contract: a rule sees only the upstream gradient ``g`` (the gradient of the statement's
output), the statement's output ``out`` and its arguments ``args`` (names or constants).
It returns one contribution per argument: an expression for ``g * d(out)/d(arg)``, or
``None`` where the argument gets no gradient (a piecewise-constant primitive).  Rules use
the output where that is cheaper and stabler: exp' is its output, sigmoid' = s(1 - s),
tanh' = 1 - t**2, sqrt' = 0.5 / s.

Non-differentiable points follow a convention (matching PyTorch and JAX where they
agree): relu'(0) = 0, abs'(0) = 0, and ties of max/min split the gradient evenly among
the tied arguments.  :data:`CONVENTIONS` maps each primitive to its convention text; a
generated module's header states those of the primitives its program applies.

``tests/test_rules.py`` checks that every primitive in :data:`codegen.primitives.ARITY`
has a rule here and that each agrees with ``sympy.diff`` of its meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen.errors import MissingRuleError
from codegen.ir import Const, Expr, Op, Program, Var, call

Contribution = Expr | None
RuleFn = Callable[[Expr, Var, tuple[Expr, ...]], tuple[Contribution, ...]]

#: stated too where a power has a variable base and exponent (see ``_pow``)
POW_CONVENTION = "a ** b at a = 0: the gradient in b is 0"
TIES = "max/min: ties split the gradient evenly among the tied arguments"


def _variable_power(op: Op) -> bool:
    return all(isinstance(a, Var) for a in op.args)


@dataclass(frozen=True)
class Convention:
    """What a rule does at a point where the math gives no derivative: ``text`` goes
    into the header of every module whose forward program applies the primitive (to
    arguments for which ``when`` holds, if given)."""

    text: str
    when: Callable[[Op], bool] | None = None


#: primitive -> its convention at non-differentiable points.  A module states the
#: conventions of the primitives its forward program applies, in this order, each text
#: once (max, min and their reductions share one).  A new primitive with a convention
#: adds one entry.
CONVENTIONS: dict[str, Convention] = {
    "relu": Convention("relu'(0) = 0 (relu(x) and maximum(0, x))"),
    "abs": Convention("abs'(0) = 0"),
    "max": Convention(TIES),
    "min": Convention(TIES),
    "amax": Convention(TIES),
    "amin": Convention(TIES),
    "pow": Convention(POW_CONVENTION, when=_variable_power),
}


@dataclass(frozen=True)
class Rule:
    fn: RuleFn
    gate: str = ""  # how the gate treats the gradient, for the comment above its block


def _add(g, out, args):
    return g, g


def _sub(g, out, args):
    return g, -g


def _mul(g, out, args):
    a, b = args
    return g * b, g * a


def _div(g, out, args):
    a, b = args
    return g / b, -(g / b) * out  # reverse reuses the first for the second


def _pow(g, out, args):
    """d(a**b)/db = a**b log(a); at a = 0 the log is taken of 1: 0**b is constant in b
    (b > 0), so its gradient there is 0, as in PyTorch and JAX (not 0 * -inf)."""
    a, b = args
    if isinstance(a, Const) and a.value == 0:
        return g * b * a ** (b - 1), None  # 0 ** b: constant 0 for b > 0
    if isinstance(a, Const):
        log_a = call("log", a)
    else:
        log_a = call("log", call("where", call("eq", a, Const.of(0)), Const.of(1), a))
    return g * b * a ** (b - 1), g * out * log_a


def _neg(g, out, args):
    return (-g,)


def _exp(g, out, args):
    return (g * out,)


def _log(g, out, args):
    (a,) = args
    return (g / a,)


def _sqrt(g, out, args):
    return (g * 0.5 / out,)


def _sin(g, out, args):
    (a,) = args
    return (g * call("cos", a),)


def _cos(g, out, args):
    (a,) = args
    return (-g * call("sin", a),)


def _tan(g, out, args):
    return (g * (1 + out**2),)


def _tanh(g, out, args):
    return (g * (1 - out**2),)


def _sigmoid(g, out, args):
    return (g * out * (1 - out),)


def _relu(g, out, args):
    return (call("where", call("gt", out, Const.of(0)), g, Const.of(0.0)),)


def _abs(g, out, args):
    (a,) = args
    return (g * call("sign", a),)


def _extremum(strict: str) -> RuleFn:
    """max (strict="gt") or min (strict="lt"): route to the winner, split ties evenly."""

    def rule(g, out, args):
        if len(args) == 2:
            a, b = args
            tie = 0.5 * call("eq", a, b)
            return g * (call(strict, a, b) + tie), g * (call(strict, b, a) + tie)
        # count the tied arguments as a float: 0.0 + (a == m) + (b == m) + ...
        # (a plain sum of NumPy booleans would be a logical or)
        ties: Expr = Const.of(0.0)
        for arg in args:
            ties = Op("add", (ties, call("eq", arg, out)))
        return tuple(g * call("eq", arg, out) / ties for arg in args)

    return rule


def _flat(g, out, args, **params):
    """Piecewise-constant primitives: zero gradient everywhere it exists."""
    return tuple(None for _ in args)


def _broadcast_like(g, out, args):
    return g, None


# --- arrays: linear algebra ----------------------------------------------------------


def _matmul(g, out, args):
    a, b = args  # (N, D) @ (D, M)
    return call("matmul", g, call("transpose", b)), call(
        "matmul", call("transpose", a), g
    )


def _matvec(g, out, args):
    a, v = args  # (N, D) @ (D,)
    return call("outer", g, v), call("matvec", call("transpose", a), g)


def _vecmat(g, out, args):
    v, b = args  # (D,) @ (D, M)
    return call("matvec", b, g), call("outer", v, g)


def _dot(g, out, args):
    a, b = args  # (D,) @ (D,)
    return g * b, g * a


def _outer(g, out, args):
    a, b = args
    return call("matvec", g, b), call("vecmat", a, g)


def _transpose(g, out, args):
    return (call("transpose", g),)


# --- arrays: reductions (``expand`` broadcasts a reduced gradient back) ---------------


def _restore(x, axis, keepdims):
    """A reduced value with its reduced axes put back as size 1, for broadcasting."""
    if keepdims or axis is None:
        return x
    return call("expand_dims", x, axis=axis)


def _sum(g, out, args, axis=None, keepdims=False):
    (a,) = args
    return (call("expand", g, a, axis=axis, keepdims=keepdims),)


def _mean(g, out, args, axis=None, keepdims=False):
    (a,) = args
    share = g / call("count", a, axis=axis)
    return (call("expand", share, a, axis=axis, keepdims=keepdims),)


def _amax(g, out, args, axis=None, keepdims=False):
    (a,) = args
    hit = call("eq", a, _restore(out, axis, keepdims))
    ties = call("sum", hit, axis=axis, keepdims=True)
    return (_restore(g, axis, keepdims) * hit / ties,)


def _squeeze(g, out, args, axis=None):
    return (_restore(g, axis, False) if axis is not None else g,)


def _expand(g, out, args, axis=None, keepdims=False):
    return call("sum", g, axis=axis, keepdims=keepdims), None


def _expand_dims(g, out, args, axis=None):
    return (call("sum", g, axis=axis),)


def _reshape(g, out, args):
    a, *dims = args
    return (call("reshape_like", g, a), *(None for _ in dims))


def _reshape_like(g, out, args):
    a, like = args
    return call("reshape_like", g, a), None


# --- arrays: indexing and selection ------------------------------------------------


def _gather(g, out, args):
    a, *index = args
    return (call("scatter_add", a, *index, g), *(None for _ in index))


def _scatter_add(g, out, args):
    a, *index, value = args
    return (None, *(None for _ in index), call("gather", g, *index))


def _slice(g, out, args, index=""):
    (a,) = args
    return (call("unslice", a, g, index=index),)


def _unslice(g, out, args, index=""):
    return None, call("slice", g, index=index)


def _copy(g, out, args):
    return (g,)


#: stated in the header of programs that use ``where`` (``module.py``: see
#: :func:`where_note`)
WHERE_CONVENTION = (
    "where(c, a, b): the branch that was not selected contributes exactly 0 to every "
    "gradient, even where its own derivative is inf or nan (where(x > 0, sqrt(x), 0) "
    "has gradient 0 at x = -1): the backward statements of values computed only for "
    "one branch are masked by the condition (where(c, ..., 0)). Elsewhere the math "
    "holds as written: sqrt(x) at x = 0 has gradient inf."
)


def where_note(program: Program) -> str | None:
    """:data:`WHERE_CONVENTION` if the forward program uses ``where``, else None."""
    for stmt in program.stmts:
        if isinstance(stmt.expr, Op) and stmt.expr.prim == "where":
            return WHERE_CONVENTION
    return None


def _where(g, out, args):
    """Routes ``g`` to the selected branch.  This rule alone would not keep the
    other branch's gradient at 0 (0 times its inf or nan local derivative is nan):
    reverse mode masks the statements computed only for a branch, see
    :func:`codegen.reverse.branch_guards`."""
    cond, a, b = args
    zero = Const.of(0.0)
    return None, call("where", cond, g, zero), call("where", cond, zero, g)


RULES: dict[str, Rule] = {
    "add": Rule(_add, "add gate: distributes the gradient"),
    "sub": Rule(_sub, "sub gate: distributes the gradient, negated for the right side"),
    "mul": Rule(_mul, "mul gate: swaps the inputs"),
    "div": Rule(_div),
    "pow": Rule(_pow),
    "neg": Rule(_neg),
    "exp": Rule(_exp, "exp' reuses the output"),
    "log": Rule(_log),
    "sqrt": Rule(_sqrt, "sqrt' = 0.5 / output"),
    "sin": Rule(_sin),
    "cos": Rule(_cos),
    "tan": Rule(_tan, "tan' = 1 + output**2"),
    "tanh": Rule(_tanh, "tanh' = 1 - output**2"),
    "sigmoid": Rule(_sigmoid, "sigmoid' = output * (1 - output)"),
    "relu": Rule(_relu, "relu gate: passes the gradient where the output is > 0"),
    "abs": Rule(_abs, "abs' = sign(input), 0 at 0"),
    "max": Rule(_extremum("gt"), "max gate: routes the gradient to the larger input"),
    "min": Rule(_extremum("lt"), "min gate: routes the gradient to the smaller input"),
    "gt": Rule(_flat),
    "lt": Rule(_flat),
    "eq": Rule(_flat),
    "sign": Rule(_flat),
    "ge": Rule(_flat),
    "le": Rule(_flat),
    "ne": Rule(_flat),
    "zeros_like": Rule(_flat),
    "broadcast_like": Rule(_broadcast_like),
    "matmul": Rule(_matmul, "matmul: dA = dOut @ B.T, dB = A.T @ dOut"),
    "matvec": Rule(_matvec, "matrix @ vector: dA = outer(dOut, v), dv = A.T @ dOut"),
    "vecmat": Rule(_vecmat, "vector @ matrix: dv = B @ dOut, dB = outer(v, dOut)"),
    "dot": Rule(_dot, "dot product: swaps the inputs"),
    "outer": Rule(_outer),
    "transpose": Rule(_transpose),
    "sum": Rule(_sum, "sum: copies the gradient back over the summed axes"),
    "mean": Rule(_mean, "mean: shares the gradient evenly over the averaged axes"),
    "amax": Rule(_amax, "max: routes the gradient to the maximum (ties split evenly)"),
    "amin": Rule(_amax, "min: routes the gradient to the minimum (ties split evenly)"),
    "shift": Rule(_flat),  # the max-shift of a stable logsumexp: its gradient cancels
    "squeeze": Rule(_squeeze),
    "expand": Rule(_expand),
    "expand_dims": Rule(_expand_dims),
    "reshape": Rule(_reshape),
    "reshape_like": Rule(_reshape_like),
    "gather": Rule(_gather, "gather: scatter-adds the gradient back"),
    "scatter_add": Rule(_scatter_add),
    "slice": Rule(_slice, "slice: the gradient goes back into the sliced places"),
    "unslice": Rule(_unslice),
    "where": Rule(_where, "where: routes the gradient to the chosen side"),
    "arange": Rule(_flat),
    "dim": Rule(_flat),
    "count": Rule(_flat),
    "copy": Rule(_copy),
    "as_float": Rule(_copy),
    # the declared type of df is f's shape, so g passes as is; a df given as a number
    # would need g summed, but the upstream gradient is an input nobody differentiates
    "broadcast_to": Rule(_broadcast_like),
}


#: primitives whose output carries no gradient back to their inputs (zero almost
#: everywhere, or a stability shift whose gradient cancels): reverse mode skips them
NO_GRADIENT = frozenset(name for name, rule in RULES.items() if rule.fn is _flat)


def rule_for(prim: str) -> Rule:
    try:
        return RULES[prim]
    except KeyError:
        raise MissingRuleError(
            f"no derivative rule for primitive '{prim}'; add one to codegen/rules.py"
        ) from None
