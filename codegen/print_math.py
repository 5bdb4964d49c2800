"""The math backend's printing table: plain floats, scalar primitives only (no
array primitives: a math module can never contain ``np.``).

Float literals (:func:`table`): an integer literal ``n`` with ``|n| < 2**53`` that is
an operand of ``+ - * /`` whose other operand is a float by the program's types
(:func:`_floating`) prints as a float, ``de * 2.0`` and ``1.0 - t * t`` for the
lecture's ``de * 2`` and ``1 - t * t``; so does such a literal as a branch of a
conditional whose other branch is a float.  The same bits: Python's float arithmetic
converts the int operand to a double first, exactly for ``|n| < 2**53``, so ``x * 2`` and
``x * 2.0`` are the same IEEE operation (a nan's sign aside, which CPython itself
does not keep: tests/test_float_literals.py).  Faster: CPython 3.11 specialises ``BINARY_OP``
(``+ - *``) for float-float operands only, float-int takes the generic path, and
``x / 3`` converts 3 on every call (12.9 vs 22 ns; benchmarks/RESULTS-calls.txt).  Left
as the program writes them: integer-only arithmetic (``n * 2`` of an ``n: int`` input,
``2 * 3``: an int stays an int, exact beyond 2**53), any operand whose type is unknown,
exponents (``x**3``, ``x**-1``: ``float.__pow__`` converts them to a double as well, so
the same bits for a float base, about 3 ns faster as floats; but ``n**2`` of an int
``n`` is an int and ``n**2.0`` a float, and ``x**3`` is how the power reads) and
comparisons (``e > -700``: no arithmetic).
"""

from __future__ import annotations

from fractions import Fraction

from .ir import Const, Expr, Op, Var
from .primitives import PRIMITIVES
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
    wrap,
)
from .print_shared import as_float, builtin, function, same

#: an integer literal below this in magnitude is a double exactly
EXACT = 2**53


class Returns:
    """A rule of the table with what its spelling returns, whatever the program's
    types say: always a float (``always``: ``float(c)``, ``1.0 if ... else 0.0``), or
    one of its arguments from position ``choice`` on, as it is (``max(x, 0)`` may be
    the int 0; ``a if c else b``)."""

    __slots__ = ("rule", "always", "choice")

    def __init__(self, rule: Rule, always: bool = False, choice: int = -1) -> None:
        self.rule, self.always, self.choice = rule, always, choice

    def __call__(self, p: TablePrinter, op: Op) -> Text:
        return self.rule(p, op)


def _integer(node: Expr) -> int | None:
    """The value of an integer literal that a double holds exactly, else None."""
    if not isinstance(node, Const) or node.text == "pi":
        return None
    value = node.value
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    if isinstance(value, int) and abs(value) < EXACT:
        return value
    return None


def _floating(p: TablePrinter, node: Expr) -> bool:
    """Whether ``node``'s value is a Python float, by the program's types (a name of
    dtype float), the primitives' dtype rules and what this table's spellings return
    (:class:`Returns`, read from :data:`MATH`: both spellings of the table mark the
    same rules); False where that is not known."""
    if isinstance(node, Const):
        value = node.value
        return isinstance(value, float) or (
            isinstance(value, Fraction) and value.denominator != 1
        )
    if isinstance(node, Var):
        return p.dtype(node) == "float"
    rule = MATH.get(node.prim)
    if isinstance(rule, Returns) and rule.always:
        return True
    record = PRIMITIVES.get(node.prim)
    if record is None or record.dtype == "bool":
        return False
    if record.dtype == "float":
        return True
    if isinstance(rule, Returns) and rule.choice >= 0:
        return all(_floating(p, a) for a in node.args[rule.choice :])
    return any(_floating(p, a) for a in node.args)


def _as_float(node: Expr) -> Expr:
    value = _integer(node)
    return node if value is None else Const(float(value), repr(float(value)))


def _float_literals(rule: Rule) -> Rule:
    """``rule`` (a binary operator) with an integer literal operand printed as a
    float when the other operand is a float."""

    def floated(p: TablePrinter, op: Op) -> Text:
        a, b = op.args
        if _integer(a) is not None and _floating(p, b):
            a = _as_float(a)
        elif _integer(b) is not None and _floating(p, a):
            b = _as_float(b)
        else:
            return rule(p, op)
        return rule(p, Op(op.prim, (a, b), op.params))

    return floated


def _sigmoid(one: str) -> Rule:
    """One exp: 1 / (1 + exp(-x)), accurate to a few ulp, except below -700 where
    exp(-x) would overflow (math.exp raises) and sigmoid(x) = exp(x) / (1 + exp(x))
    equals exp(x) to the last bit (exp(x) < 1e-304).  A conditional expression, so
    plain floats only (the NumPy form, :func:`_np_sigmoid`, calls exp twice).
    ``one``: how 1 is written."""

    def rule(p: TablePrinter, op: Op) -> Text:
        part = p.text(op.args[0])
        x = wrap(part, part.prec <= COND)
        exp, neg = p.ref("math", "exp"), wrap(part, part.prec < ATOM)
        body = f"{one} / ({one} + {exp}(-{neg}))"
        return Text(f"{body} if {x} > -700 else {exp}({part.text})", COND)

    return rule


def _softplus(zero: str) -> Rule:
    """max(x, 0) + log1p(exp(-|x|)): no exp of a positive number.  ``zero``: how 0
    is written (``max(-1.0, 0.0)`` is the float 0.0, ``max(-1.0, 0)`` the int 0)."""

    def rule(p: TablePrinter, op: Op) -> Text:
        x = p.expr(op.args[0])
        log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
        return Text(f"max({x}, {zero}) + {log1p}({exp}(-abs({x})))", ADD)

    return rule


def _log_sigmoid(zero: str) -> Rule:
    """min(x, 0) - log1p(exp(-|x|))."""

    def rule(p: TablePrinter, op: Op) -> Text:
        x = p.expr(op.args[0])
        log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
        return Text(f"min({x}, {zero}) - {log1p}({exp}(-abs({x})))", ADD)

    return rule


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


def _float_where(p: TablePrinter, op: Op) -> Text:
    """``a if cond else b`` with an integer literal branch printed as a float when
    the other branch is a float (``t if t2 else 0.0``)."""
    cond, yes, no = op.args
    if _integer(yes) is not None and _floating(p, no):
        yes = _as_float(yes)
    elif _integer(no) is not None and _floating(p, yes):
        no = _as_float(no)
    return _math_where(p, Op(op.prim, (cond, yes, no), op.params))


def table(float_literals: bool = True) -> dict[str, Rule]:
    """The math backend's table; ``float_literals=False`` prints integer literals as
    the program writes them (for tests comparing the two spellings' values)."""
    one, zero = ("1.0", "0.0") if float_literals else ("1", "0")
    arithmetic = ("add", "sub", "mul", "div") if float_literals else ()
    return {
        **OPERATORS,
        **{name: _float_literals(OPERATORS[name]) for name in arithmetic},
        "pow": _math_pow,
        "exp": function("math", "exp"),
        "log": function("math", "log"),
        "sqrt": function("math", "sqrt"),
        "sin": function("math", "sin"),
        "cos": function("math", "cos"),
        "tan": function("math", "tan"),
        "tanh": function("math", "tanh"),
        "sigmoid": _sigmoid(one),
        "relu": Returns(_math_relu, choice=0),
        "abs": builtin("abs"),
        "softplus": _softplus(zero),
        "log_sigmoid": _log_sigmoid(zero),
        "log1p": function("math", "log1p"),
        "expm1": function("math", "expm1"),
        "logaddexp": _math_logaddexp,
        "max": Returns(builtin("max"), choice=0),
        "min": Returns(builtin("min"), choice=0),
        "sign": Returns(_math_sign, always=True),
        "zeros_like": Returns(_math_zeros_like, always=True),
        "copy": same,
        "broadcast_like": same,
        "as_float": Returns(as_float, always=True),
        "where": Returns(_float_where if float_literals else _math_where, choice=1),
        # no array primitives: arrays need the numpy backend
    }


MATH: dict[str, Rule] = table()
