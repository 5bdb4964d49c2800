"""The math backend's printing table: plain floats, scalar primitives only (no
array primitives: a math module can never contain ``np.``).

Constants print as the program writes them (the lecture's ``de * 2``).  Measured:
``de * 2.0`` is faster here, with the same bits for any integer below 2**53 (CPython
3.11 specialises ``BINARY_OP`` for float-float operands only; float-int takes the
generic path), so float literals are the better spelling for this backend; they are not
printed yet (benchmarks/RESULTS-calls.txt).
"""

from __future__ import annotations

from .ir import Const, Op, Var
from .print_core import (
    ADD,
    ATOM,
    CMP,
    COND,
    MUL,
    OPERATORS,
    Rule,
    TablePrinter,
    Text,
    as_float,
    builtin,
    function,
    same,
    wrap,
)


def _math_sigmoid(p: TablePrinter, op: Op) -> Text:
    """One exp: 1 / (1 + exp(-x)), accurate to a few ulp, except below -700 where
    exp(-x) would overflow (math.exp raises) and sigmoid(x) = exp(x) / (1 + exp(x))
    equals exp(x) to the last bit (exp(x) < 1e-304).  A conditional expression, so
    plain floats only (the NumPy form, :func:`_np_sigmoid`, calls exp twice)."""
    part = p.text(op.args[0])
    x = wrap(part, part.prec <= COND)
    exp, neg = p.ref("math", "exp"), wrap(part, part.prec < ATOM)
    return Text(f"1 / (1 + {exp}(-{neg})) if {x} > -700 else {exp}({part.text})", COND)


def _math_softplus(p: TablePrinter, op: Op) -> Text:
    """max(x, 0) + log1p(exp(-|x|)): no exp of a positive number."""
    x = p.expr(op.args[0])
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    return Text(f"max({x}, 0) + {log1p}({exp}(-abs({x})))", ADD)


def _math_log_sigmoid(p: TablePrinter, op: Op) -> Text:
    """min(x, 0) - log1p(exp(-|x|))."""
    x = p.expr(op.args[0])
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    return Text(f"min({x}, 0) - {log1p}({exp}(-abs({x})))", ADD)


def _math_logaddexp(p: TablePrinter, op: Op) -> Text:
    """max(a, b) + log1p(exp(-|a - b|))."""
    a, b = op.args
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    diff = p.expr(Op("sub", (a, b)))
    return Text(f"max({p.expr(a)}, {p.expr(b)}) + {log1p}({exp}(-abs({diff})))", ADD)


def _math_sign(p: TablePrinter, op: Op) -> Text:
    """sign(0) = 0, as ``np.sign``, and 0.0 of nan (neither comparison holds), as
    ``float(t > 0) - float(t < 0)`` gives: a conditional expression, which costs
    less than two calls (benchmarks/RESULTS-calls.txt); an np.float64 argument works
    too (its comparisons give ``np.bool_``)."""
    part = p.text(op.args[0])
    a = wrap(part, part.prec <= CMP)  # ``(a > b) > 0``, not the chain ``a > b > 0``
    return Text(f"1.0 if {a} > 0 else -1.0 if {a} < 0 else 0.0", COND)


def _math_pow(p: TablePrinter, op: Op) -> Text:
    """A square of a name as a product, ``t * t``: one float multiplication where
    ``t**2`` is a call of libm's pow (several times slower, and a last bit off the
    correctly rounded ``t * t`` in about 1 in 1,000 cases; an overflow is inf, as of
    any product, not OverflowError); any other power as ``**``."""
    base, exponent = op.args
    if isinstance(base, Var) and isinstance(exponent, Const) and exponent.text == "2":
        return Text(f"{base.name} * {base.name}", MUL)
    return OPERATORS["pow"](p, op)


def _math_relu(p: TablePrinter, op: Op) -> Text:
    return p.call("max", (Const(0.0, "0.0"), op.args[0]))


def _math_zeros_like(p: TablePrinter, op: Op) -> Text:
    return Text("0.0", ATOM, True)


def _math_where(p: TablePrinter, op: Op) -> Text:
    cond, yes, no = (p.text(a) for a in op.args)
    text = f"{wrap(yes, yes.prec <= COND)} if {wrap(cond, cond.prec <= COND)}"
    return Text(f"{text} else {wrap(no, no.prec < COND)}", COND)


MATH: dict[str, Rule] = {
    **OPERATORS,
    "pow": _math_pow,
    "exp": function("math", "exp"),
    "log": function("math", "log"),
    "sqrt": function("math", "sqrt"),
    "sin": function("math", "sin"),
    "cos": function("math", "cos"),
    "tan": function("math", "tan"),
    "tanh": function("math", "tanh"),
    "sigmoid": _math_sigmoid,
    "relu": _math_relu,
    "abs": builtin("abs"),
    "softplus": _math_softplus,
    "log_sigmoid": _math_log_sigmoid,
    "log1p": function("math", "log1p"),
    "expm1": function("math", "expm1"),
    "logaddexp": _math_logaddexp,
    "max": builtin("max"),
    "min": builtin("min"),
    "sign": _math_sign,
    "zeros_like": _math_zeros_like,
    "copy": same,
    "broadcast_like": same,
    "as_float": as_float,
    "where": _math_where,
    # no array primitives: arrays need the numpy backend
}
