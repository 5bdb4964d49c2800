"""The math backend's printing table: plain floats, scalar primitives only (no
array primitives: a math module can never contain ``np.``).
"""

from __future__ import annotations

from codegen.ir import Const, Op
from codegen.print_core import (
    ADD,
    ATOM,
    CMP,
    COND,
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
    """sign(0) = 0, as ``np.sign``; ``float(...)`` so that a NumPy float64 argument
    (whose comparisons give ``np.bool_``, which cannot be subtracted) works too."""
    part = p.text(op.args[0])
    a = wrap(
        part, part.prec <= CMP
    )  # ``(x if c else y) > 0``, not ``x if c else y > 0``
    return Text(f"float({a} > 0) - float({a} < 0)", ADD)


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
