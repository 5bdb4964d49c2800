"""Statements -> Python source lines for a backend: ``numpy``, ``math`` or ``source``
(the user's own notation, for comments).

Each backend is one literal table from primitive to a small printing function
(:data:`NUMPY`, :data:`MATH`, :data:`SOURCE`); the operators (``+ - * / ** @``, unary
minus, comparisons), with their precedence and black's spacing, are printed once for all
of them by :func:`_infix`, :func:`_pow` and :func:`_neg`.  A primitive missing from a
backend's table is a :class:`~codegen.errors.MissingRuleError` naming both, never code
borrowed from another backend: the math table has no array primitives, so a math module
can never contain ``np.``.

A printing function names a module's attribute only through :meth:`Printer.ref`, which
notes the module; :meth:`Printer.imports` then gives the import lines for exactly what
was printed.  A new backend is one table here, an entry in :data:`TABLES` and, for a new
module, one in :data:`MODULES`.

The printer writes what black would write for a line that fits (spacing, parentheses,
``x**2`` hugging), so large modules can skip black; ``tests/test_formatting.py`` holds it
to that.  It never renames: names are fixed before printing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from codegen.errors import MissingRuleError
from codegen.ir import Const, Expr, Op, Stmt, Var

ATOM = 14
POW = 13
UNARY = 12
MUL = 11
ADD = 10
CMP = 6
COND = 1

STDLIB = 0
THIRD_PARTY = 1

#: module -> (the name printed code uses for it, its import line, its isort section)
MODULES: dict[str, tuple[str, str, int]] = {
    "math": ("math", "import math", STDLIB),
    "numpy": ("np", "import numpy as np", THIRD_PARTY),
    "torch": ("torch", "import torch", THIRD_PARTY),
}


@dataclass(frozen=True, slots=True)
class Helper:
    """A function the printed code calls by name and the module defines once: its
    source lines (printed as they are, black's layout) and the modules they use."""

    lines: tuple[str, ...]
    modules: tuple[str, ...]


#: name -> the helper; a module defines the ones its printed text calls, in this order
HELPERS: dict[str, Helper] = {
    # the stable logistic function of the numpy backend: 1 / (1 + exp(-x)) for x >= 0
    # and exp(x) / (1 + exp(x)) below, from one exp of -|x| (at most 1: no overflow or
    # warning at +-1000 or +-inf, a few ulp everywhere); a number takes a conditional
    # instead of np.where (about ten times cheaper there), with the same np.exp and the
    # same division, so a number and an array give the same bits, NumPy's float64 both
    "sigmoid": Helper(
        (
            "def sigmoid(x):",
            '    """1 / (1 + exp(-x)) without overflow, from one exp of -|x|."""',
            "    if isinstance(x, float):  # a number: np.where costs ~10x more here",
            "        z = np.exp(-abs(x))",
            "        return (1 if x >= 0 else z) / (1 + z)",
            "    z = np.exp(-np.abs(x))",
            "    return np.where(x >= 0, 1, z) / (1 + z)",
        ),
        ("numpy",),
    ),
}


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    prec: int
    simple: bool = False  # a NAME, number or attribute chain: black hugs ``**`` on it


def _wrap(part: _Text, needs: bool) -> str:
    return f"({part.text})" if needs else part.text


#: a printing function: the printer (for its helpers) and the operation -> printed text
Rule = Callable[["Printer", Op], _Text]


class _Statement:
    """A primitive printed as statements of its own (``np.add.at`` returns nothing):
    it can be the whole right side of a plain assignment, never part of an expression.
    ``lines(printer, target, op)`` returns the lines joined by newlines."""

    __slots__ = ("lines",)

    def __init__(self, lines: Callable[[Printer, str, Op], str]) -> None:
        self.lines = lines

    def __call__(self, p: Printer, op: Op) -> _Text:
        raise MissingRuleError(
            f"primitive '{op.prim}' prints as statements of its own "
            f"({p.backend} backend), not inside an expression"
        )


class _StatementOrExpression(_Statement):
    """A primitive with two spellings: statements of their own when it is the whole
    right side of an assignment (``lines``), an expression elsewhere (``text``)."""

    __slots__ = ("text",)

    def __init__(self, lines: Callable[[Printer, str, Op], str], text: Rule) -> None:
        super().__init__(lines)
        self.text = text

    def __call__(self, p: Printer, op: Op) -> _Text:
        return self.text(p, op)


class Printer:
    """Prints expressions and statements for one backend and remembers which modules
    the printed text refers to (see :meth:`imports`)."""

    __slots__ = ("backend", "_rules", "_pi", "_used", "_helpers")

    def __init__(self, backend: str) -> None:
        if backend not in TABLES:
            raise ValueError(f"unknown backend {backend!r}")
        self.backend = backend
        self._rules, self._pi = TABLES[backend]
        self._used: set[str] = set()
        self._helpers: set[str] = set()

    # -- what the printing functions use --------------------------------------------

    def ref(self, module: str, attr: str) -> str:
        """``module``'s ``attr`` as printed code names it (``np.exp``), noting that
        the text printed now needs ``module`` imported."""
        self._used.add(module)
        return f"{MODULES[module][0]}.{attr}"

    def helper(self, name: str) -> str:
        """The name of the module-level function :data:`HELPERS` ``[name]``, noting
        that the module must define it (and import what it uses)."""
        self._helpers.add(name)
        self.uses(HELPERS[name])
        return name

    def uses(self, helper: Helper) -> None:
        """Note the modules ``helper``'s code refers to (the module defines it)."""
        self._used.update(helper.modules)

    def text(self, node: Expr) -> _Text:
        """A node printed, with the precedence its context needs to wrap it."""
        # backward expressions are small trees; forward statements are one level deep
        if isinstance(node, Var):
            return _Text(node.name, ATOM, True)
        if isinstance(node, Const):
            return self._const(node)
        try:
            rule = self._rules[node.prim]
        except KeyError:
            raise MissingRuleError(
                f"no printing function for primitive '{node.prim}' "
                f"in the {self.backend} backend"
            ) from None
        return rule(self, node)

    def call(self, name: str, args: tuple[Expr, ...]) -> _Text:
        """``name(arg, ...)``."""
        return _Text(f"{name}({', '.join(self.text(a).text for a in args)})", ATOM)

    def receiver(self, node: Expr) -> str:
        """A node printed before ``.attribute`` or ``[index]``."""
        part = self.text(node)
        return _wrap(part, part.prec < ATOM or part.text.startswith("-"))

    def _const(self, const: Const) -> _Text:
        text = const.text
        if text == "pi":
            module, attr = self._pi
            return _Text(self.ref(module, attr) if module else attr, ATOM, True)
        if " / " in text:  # a rational, -2 / 3 included: a quotient, not a unary minus
            return _Text(text, MUL)
        if text.startswith("-"):
            return _Text(text, UNARY, True)
        return _Text(text, ATOM, True)

    # -- the public interface ----------------------------------------------------------

    def expr(self, root: Expr) -> str:
        return self.text(root).text

    def statement(self, stmt: Stmt) -> str:
        """``target = value`` (or ``target = target + value``); one line, or several
        joined by newlines for primitives that print as statements of their own.
        Comments and notes are not printed here."""
        expr = stmt.expr
        if isinstance(expr, Op):
            rule = self._rules.get(expr.prim)
            if isinstance(rule, _Statement):
                if stmt.accumulate:
                    raise MissingRuleError(
                        f"primitive '{expr.prim}' writes a fresh array and cannot "
                        f"accumulate into '{stmt.target}' ({self.backend} backend)"
                    )
                return rule.lines(self, stmt.target, expr)
            if stmt.accumulate and expr.prim == "neg":
                inner = self.text(expr.args[0])
                rhs = _wrap(inner, inner.prec <= ADD)
                return f"{stmt.target} = {stmt.target} - {rhs}"
        value = self.text(expr)
        if stmt.accumulate:
            rhs = _wrap(value, value.prec <= ADD)
            return f"{stmt.target} = {stmt.target} + {rhs}"
        return f"{stmt.target} = {value.text}"

    @property
    def modules(self) -> frozenset[str]:
        """The modules (keys of :data:`MODULES`) the text printed so far refers to."""
        return frozenset(self._used)

    def helper_lines(self) -> tuple[str, ...]:
        """The definitions of the helpers the text printed so far calls, in
        :data:`HELPERS` order, two blank lines ("") between them."""
        lines: list[str] = []
        for name, helper in HELPERS.items():
            if name in self._helpers:
                lines.extend([*([""] * 2 if lines else []), *helper.lines])
        return tuple(lines)

    def imports(self, *stdlib: str) -> tuple[str, ...]:
        """The import lines the text printed so far needs, with the caller's own
        standard-library lines ``stdlib`` (``"from collections import namedtuple"``),
        laid out as isort and ruff do: the standard library (``import`` lines before
        ``from`` lines), then a blank line and third-party modules.  Deterministic:
        the order things were printed in does not matter."""
        sections: tuple[set[str], set[str]] = (set(stdlib), set())
        for module in self._used:
            _, line, section = MODULES[module]
            sections[section].add(line)
        lines: list[str] = []
        for section in sections:
            if section:
                if lines:
                    lines.append("")
                lines.extend(sorted(section, key=_isort_key))
        return tuple(lines)


def _isort_key(line: str) -> tuple[bool, str, str]:
    words = line.split()
    return (words[0] == "from", words[1].lower(), line)


# -- shared by every backend: operators -------------------------------------------------


def _infix(symbol: str, prec: int) -> Rule:
    """A left-associative binary operator: ``a - (b - c)``, ``(a + b) * c``; a
    comparison wraps a comparison on either side (``(a > b) > c``: Python would chain
    ``a > b > c``)."""
    below = prec + 1 if prec == CMP else prec  # a left operand below this is wrapped

    def rule(p: Printer, op: Op) -> _Text:
        a, b = op.args
        left, right = p.text(a), p.text(b)
        lhs = _wrap(left, left.prec < below)
        rhs = _wrap(right, right.prec <= prec)
        return _Text(f"{lhs} {symbol} {rhs}", prec)

    return rule


def _pow(p: Printer, op: Op) -> _Text:
    """Right-associative and tighter than unary minus on its left; black hugs ``**``
    between simple operands (``x**2``, ``x ** (1 / 3)``)."""
    a, b = op.args
    left, right = p.text(a), p.text(b)
    lhs = _wrap(left, left.prec <= POW)
    rhs = _wrap(right, right.prec < UNARY)
    hug = left.simple and left.prec > POW and right.simple
    return _Text(f"{lhs}**{rhs}" if hug else f"{lhs} ** {rhs}", POW)


def _neg(p: Printer, op: Op) -> _Text:
    inner = p.text(op.args[0])
    needs = inner.prec < ATOM or inner.text.startswith("-")
    simple = inner.simple and not needs
    return _Text("-" + _wrap(inner, needs), UNARY, simple)


#: the operators every backend prints the same way
_OPERATORS: dict[str, Rule] = {
    "add": _infix("+", ADD),
    "sub": _infix("-", ADD),
    "mul": _infix("*", MUL),
    "div": _infix("/", MUL),
    "pow": _pow,
    "neg": _neg,
    "gt": _infix(">", CMP),
    "lt": _infix("<", CMP),
    "eq": _infix("==", CMP),
    "ge": _infix(">=", CMP),
    "le": _infix("<=", CMP),
    "ne": _infix("!=", CMP),
}

_MATMUL = _infix("@", MUL)


# -- building blocks for the tables -----------------------------------------------------


def _function(module: str, attr: str) -> Rule:
    """``module.attr(args)``: ``np.exp(x)``, ``math.sqrt(x)``."""

    def rule(p: Printer, op: Op) -> _Text:
        return p.call(p.ref(module, attr), op.args)

    return rule


def _builtin(name: str) -> Rule:
    """A call of a builtin (or, in the source notation, of the user's function)."""

    def rule(p: Printer, op: Op) -> _Text:
        return p.call(name, op.args)

    return rule


def _same(p: Printer, op: Op) -> _Text:
    """The argument itself (a copy of a float, a broadcast that changes nothing)."""
    return p.text(op.args[0])


def _axis_text(axis: object) -> str:
    return repr(axis)


def _reduce_args(params: dict) -> str:
    parts = []
    if params.get("axis") is not None:
        parts.append(f"axis={_axis_text(params['axis'])}")
    if params.get("keepdims"):
        parts.append("keepdims=True")
    return ", ".join(parts)


def _method(name: str) -> Rule:
    """A reduction as a method: ``a.sum(axis=0)``, ``a.max(axis=1, keepdims=True)``."""

    def rule(p: Printer, op: Op) -> _Text:
        inner = _reduce_args(dict(op.params))
        return _Text(f"{p.receiver(op.args[0])}.{name}({inner})", ATOM)

    return rule


def _transpose(p: Printer, op: Op) -> _Text:
    return _Text(f"{p.receiver(op.args[0])}.T", ATOM)


def _slice(p: Printer, op: Op) -> _Text:
    return _Text(f"{p.receiver(op.args[0])}[{op.param('index')}]", ATOM)


def _gather(p: Printer, op: Op) -> _Text:
    index = ", ".join(p.expr(a) for a in op.args[1:])
    return _Text(f"{p.receiver(op.args[0])}[{index}]", ATOM)


def _as_float(p: Printer, op: Op) -> _Text:
    return p.call("float", op.args)


# -- numpy ------------------------------------------------------------------------------


def _np_sigmoid(p: Printer, op: Op) -> _Text:
    """``sigmoid(x)``: the module's own function (:data:`HELPERS`), one exp of -|x|."""
    return _Text(f"{p.helper('sigmoid')}({p.expr(op.args[0])})", ATOM)


def _np_softplus(p: Printer, op: Op) -> _Text:
    """log(1 + exp(x)) as ``np.logaddexp(0, x)``: max(x, 0) + log1p(exp(-|x|))."""
    return p.call(p.ref("numpy", "logaddexp"), (Const(0, "0"), op.args[0]))


def _np_log_sigmoid(p: Printer, op: Op) -> _Text:
    """log(sigmoid(x)) = -log(1 + exp(-x)) as ``-np.logaddexp(0, -x)``."""
    inner = p.text(op.args[0])
    neg = "-" + _wrap(inner, inner.prec < ATOM or inner.text.startswith("-"))
    return _Text(f"-{p.ref('numpy', 'logaddexp')}(0, {neg})", UNARY)


def _np_norm(p: Printer, op: Op) -> _Text:
    """The Euclidean norm as ``np.hypot.reduce``: scaled as it goes, so no square
    overflows (1e200) or underflows (1e-300).  A ufunc reduces axis 0 by default, so
    ``axis=None`` (all axes) is written out."""
    params = dict(op.params)
    inner = _reduce_args(params)
    if params.get("axis") is None:
        inner = "axis=None" + (f", {inner}" if inner else "")
    return _Text(
        f"{p.ref('numpy', 'hypot')}.reduce({p.expr(op.args[0])}, {inner})", ATOM
    )


def _np_relu(p: Printer, op: Op) -> _Text:
    return p.call(p.ref("numpy", "maximum"), (Const(0, "0"), op.args[0]))


def _np_extremum(attr: str) -> Rule:
    """n-ary max/min as nested two-argument calls: ``np.maximum(np.maximum(a, b), c)``."""

    def rule(p: Printer, op: Op) -> _Text:
        name = p.ref("numpy", attr)
        first, *rest = op.args
        text = p.text(first).text
        for arg in rest:
            text = f"{name}({text}, {p.text(arg).text})"
        return _Text(text, ATOM)

    return rule


def _np_zeros_like(p: Printer, op: Op) -> _Text:
    return _Text(
        f"{p.ref('numpy', 'zeros_like')}({p.expr(op.args[0])}, dtype=float)", ATOM
    )


def _np_broadcast_like(p: Printer, op: Op) -> _Text:
    """``g + np.zeros_like(like)``: g as a fresh array of like's shape (never the
    caller's array)."""
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    return _Text(
        f"{_wrap(g, g.prec < ADD)} + {p.ref('numpy', 'zeros_like')}({like})", ADD
    )


def _np_broadcast_like_lines(p: Printer, target: str, op: Op) -> str:
    """As a statement of its own: ``g + np.zeros_like(like)`` unless g and like are
    both numbers (a call with Python floats); then ``np.float64(g)``, the type of every
    other number the module computes, without the array that would cost more than the
    whole computation."""
    g = p.text(op.args[0])
    like = p.expr(op.args[1])
    float64, zeros_like = p.ref("numpy", "float64"), p.ref("numpy", "zeros_like")
    numbers = f"isinstance({like}, float)"
    if not isinstance(op.args[0], Const):  # a constant seed is a number already
        numbers = f"isinstance({g.text}, float) and {numbers}"
    return (
        f"if {numbers}:\n"
        f"    {target} = {float64}({g.text})\n"
        "else:\n"
        f"    {target} = {_wrap(g, g.prec < ADD)} + {zeros_like}({like})"
    )


def _np_copy(p: Printer, op: Op) -> _Text:
    if op.param("caller"):
        # the caller's argument may be a Python number, which has no .copy(): unary
        # plus makes a new array of an array and leaves a number a number
        arg = p.text(op.args[0])
        return _Text(f"+{_wrap(arg, arg.prec < UNARY)}", UNARY)
    return _Text(f"{p.receiver(op.args[0])}.copy()", ATOM)


def _np_shift(p: Printer, op: Op) -> _Text:
    """The max-shift of a stable logsumexp/softmax; ``initial=-np.inf`` makes it -inf
    over an empty axis (where ``max`` alone raises), so the result is NumPy's own
    answer there: logsumexp -inf, empty softmax."""
    keep = dict(op.params, keepdims=True)
    inner = _reduce_args(keep) + f", initial=-{p.ref('numpy', 'inf')}"
    return _Text(f"{p.receiver(op.args[0])}.max({inner})", ATOM)


def _np_as_float(p: Printer, op: Op) -> _Text:
    """A scalar output's upstream gradient: ``float`` refuses anything but a number,
    ``np.float64`` gives it NumPy's float rules (a mean over an empty batch divides
    by 0: inf and a warning, not ZeroDivisionError)."""
    inner = _as_float(p, op).text
    return _Text(f"{p.ref('numpy', 'float64')}({inner})", ATOM)


def _np_squeeze(p: Printer, op: Op) -> _Text:
    axis, inner = op.param("axis"), p.expr(op.args[0])
    squeeze = p.ref("numpy", "squeeze")
    if axis is None:
        return _Text(f"{squeeze}({inner})", ATOM)
    return _Text(f"{squeeze}({inner}, axis={_axis_text(axis)})", ATOM)


def _np_reshape(p: Printer, op: Op) -> _Text:
    dims = ", ".join(p.expr(a) for a in op.args[1:])
    return _Text(f"{p.receiver(op.args[0])}.reshape({dims})", ATOM)


def _np_reshape_like(p: Printer, op: Op) -> _Text:
    like = p.receiver(op.args[1])
    return _Text(f"{p.receiver(op.args[0])}.reshape({like}.shape)", ATOM)


def _np_broadcast_to(p: Printer, op: Op) -> _Text:
    # a fresh float array: gradients are float64 whatever the caller passed
    g, like = p.expr(op.args[0]), p.receiver(op.args[1])
    name = p.ref("numpy", "broadcast_to")
    return _Text(f"{name}({g}, {like}.shape).astype(float)", ATOM)


def _np_expand(p: Printer, op: Op) -> _Text:
    # a new array shaped like ``like``, filled with g (broadcast)
    g, like = p.expr(op.args[0]), p.expr(op.args[1])
    axis = op.param("axis")
    if axis is not None and not op.param("keepdims"):
        g = f"{p.ref('numpy', 'expand_dims')}({g}, {_axis_text(axis)})"
    return _Text(f"{p.ref('numpy', 'full_like')}({like}, {g}, dtype=float)", ATOM)


def _np_expand_dims(p: Printer, op: Op) -> _Text:
    inner, axis = p.expr(op.args[0]), _axis_text(op.param("axis"))
    return _Text(f"{p.ref('numpy', 'expand_dims')}({inner}, {axis})", ATOM)


def _np_count(p: Printer, op: Op) -> _Text:
    a = p.receiver(op.args[0])
    axis = op.param("axis")
    if axis is None:
        return _Text(f"{a}.size", ATOM)
    axes = axis if isinstance(axis, tuple) else (axis,)
    text = " * ".join(f"{a}.shape[{k}]" for k in axes)
    return _Text(text, ATOM if len(axes) == 1 else MUL)


def _np_dim(p: Printer, op: Op) -> _Text:
    return _Text(f"{p.receiver(op.args[0])}.shape[{op.param('axis')}]", ATOM)


def _np_scatter_add(p: Printer, target: str, op: Op) -> str:
    # two lines: a fresh zero array, then the scatter-add into it
    like, *index, value = op.args
    where = ", ".join(p.expr(a) for a in index)
    if len(index) > 1:
        where = f"({where})"
    return (
        f"{target} = {p.ref('numpy', 'zeros_like')}({p.expr(like)}, dtype=float)\n"
        f"{p.ref('numpy', 'add')}.at({target}, {where}, {p.expr(value)})"
    )


def _np_unslice(p: Printer, target: str, op: Op) -> str:
    like, value = op.args
    return (
        f"{target} = {p.ref('numpy', 'zeros_like')}({p.expr(like)}, dtype=float)\n"
        f"{target}[{op.param('index')}] = {p.expr(value)}"
    )


NUMPY: dict[str, Rule] = {
    **_OPERATORS,
    "exp": _function("numpy", "exp"),
    "log": _function("numpy", "log"),
    "sqrt": _function("numpy", "sqrt"),
    "sin": _function("numpy", "sin"),
    "cos": _function("numpy", "cos"),
    "tan": _function("numpy", "tan"),
    "tanh": _function("numpy", "tanh"),
    "sigmoid": _np_sigmoid,
    "relu": _np_relu,
    "abs": _function("numpy", "abs"),
    "softplus": _np_softplus,
    "log_sigmoid": _np_log_sigmoid,
    "log1p": _function("numpy", "log1p"),
    "expm1": _function("numpy", "expm1"),
    "logaddexp": _function("numpy", "logaddexp"),
    "norm": _np_norm,
    "max": _np_extremum("maximum"),
    "min": _np_extremum("minimum"),
    "sign": _function("numpy", "sign"),
    "zeros_like": _np_zeros_like,
    "copy": _np_copy,
    "broadcast_like": _StatementOrExpression(
        _np_broadcast_like_lines, _np_broadcast_like
    ),
    "as_float": _np_as_float,
    "broadcast_to": _np_broadcast_to,
    "matmul": _MATMUL,
    "matvec": _MATMUL,
    "vecmat": _MATMUL,
    "dot": _MATMUL,
    "outer": _function("numpy", "outer"),
    "sum": _method("sum"),
    "mean": _method("mean"),
    "amax": _method("max"),
    "amin": _method("min"),
    "shift": _np_shift,
    "squeeze": _np_squeeze,
    "transpose": _transpose,
    "reshape": _np_reshape,
    "reshape_like": _np_reshape_like,
    "expand": _np_expand,
    "expand_dims": _np_expand_dims,
    "count": _np_count,
    "gather": _gather,
    "scatter_add": _Statement(_np_scatter_add),
    "slice": _slice,
    "unslice": _Statement(_np_unslice),
    "where": _function("numpy", "where"),
    "arange": _function("numpy", "arange"),
    "dim": _np_dim,
}


# -- math: plain floats, scalar primitives only -----------------------------------------


def _math_sigmoid(p: Printer, op: Op) -> _Text:
    """One exp: 1 / (1 + exp(-x)), accurate to a few ulp, except below -700 where
    exp(-x) would overflow (math.exp raises) and sigmoid(x) = exp(x) / (1 + exp(x))
    equals exp(x) to the last bit (exp(x) < 1e-304).  A conditional expression, so
    plain floats only (the NumPy form, :func:`_np_sigmoid`, calls exp twice)."""
    part = p.text(op.args[0])
    x = _wrap(part, part.prec <= COND)
    exp, neg = p.ref("math", "exp"), _wrap(part, part.prec < ATOM)
    return _Text(f"1 / (1 + {exp}(-{neg})) if {x} > -700 else {exp}({part.text})", COND)


def _math_softplus(p: Printer, op: Op) -> _Text:
    """max(x, 0) + log1p(exp(-|x|)): no exp of a positive number."""
    x = p.expr(op.args[0])
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    return _Text(f"max({x}, 0) + {log1p}({exp}(-abs({x})))", ADD)


def _math_log_sigmoid(p: Printer, op: Op) -> _Text:
    """min(x, 0) - log1p(exp(-|x|))."""
    x = p.expr(op.args[0])
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    return _Text(f"min({x}, 0) - {log1p}({exp}(-abs({x})))", ADD)


def _math_logaddexp(p: Printer, op: Op) -> _Text:
    """max(a, b) + log1p(exp(-|a - b|))."""
    a, b = op.args
    log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
    diff = p.expr(Op("sub", (a, b)))
    return _Text(f"max({p.expr(a)}, {p.expr(b)}) + {log1p}({exp}(-abs({diff})))", ADD)


def _math_sign(p: Printer, op: Op) -> _Text:
    """sign(0) = 0, as ``np.sign``; ``float(...)`` so that a NumPy float64 argument
    (whose comparisons give ``np.bool_``, which cannot be subtracted) works too."""
    part = p.text(op.args[0])
    a = _wrap(
        part, part.prec <= CMP
    )  # ``(x if c else y) > 0``, not ``x if c else y > 0``
    return _Text(f"float({a} > 0) - float({a} < 0)", ADD)


def _math_relu(p: Printer, op: Op) -> _Text:
    return p.call("max", (Const(0.0, "0.0"), op.args[0]))


def _math_zeros_like(p: Printer, op: Op) -> _Text:
    return _Text("0.0", ATOM, True)


def _math_where(p: Printer, op: Op) -> _Text:
    cond, yes, no = (p.text(a) for a in op.args)
    text = f"{_wrap(yes, yes.prec <= COND)} if {_wrap(cond, cond.prec <= COND)}"
    return _Text(f"{text} else {_wrap(no, no.prec < COND)}", COND)


MATH: dict[str, Rule] = {
    **_OPERATORS,
    "exp": _function("math", "exp"),
    "log": _function("math", "log"),
    "sqrt": _function("math", "sqrt"),
    "sin": _function("math", "sin"),
    "cos": _function("math", "cos"),
    "tan": _function("math", "tan"),
    "tanh": _function("math", "tanh"),
    "sigmoid": _math_sigmoid,
    "relu": _math_relu,
    "abs": _builtin("abs"),
    "softplus": _math_softplus,
    "log_sigmoid": _math_log_sigmoid,
    "log1p": _function("math", "log1p"),
    "expm1": _function("math", "expm1"),
    "logaddexp": _math_logaddexp,
    "max": _builtin("max"),
    "min": _builtin("min"),
    "sign": _math_sign,
    "zeros_like": _math_zeros_like,
    "copy": _same,
    "broadcast_like": _same,
    "as_float": _as_float,
    "where": _math_where,
    # no array primitives: arrays need the numpy backend
}


# -- source: the user's notation, for comments ------------------------------------------


def _source_call(p: Printer, op: Op) -> _Text:
    """``prim(args, option=value)``: how a comment shows a primitive the user cannot
    write (``expand(dt, t, axis=1)``) or writes as a call (``sigmoid(x)``)."""
    options = [f"{k}={v!r}" for k, v in op.params]
    inner = ", ".join([p.text(a).text for a in op.args] + options)
    return _Text(f"{op.prim}({inner})", ATOM)


SOURCE: dict[str, Rule] = {
    **_OPERATORS,
    "exp": _source_call,
    "log": _source_call,
    "sqrt": _source_call,
    "sin": _source_call,
    "cos": _source_call,
    "tan": _source_call,
    "tanh": _source_call,
    "sigmoid": _source_call,
    "relu": _source_call,
    "abs": _source_call,
    "softplus": _source_call,
    "log_sigmoid": _source_call,
    "log1p": _source_call,
    "expm1": _source_call,
    "logaddexp": _source_call,
    "norm": _source_call,
    "max": _source_call,
    "min": _source_call,
    "sign": _source_call,
    "zeros_like": _source_call,
    "copy": _same,
    "broadcast_like": _same,
    "as_float": _as_float,
    "broadcast_to": _source_call,
    "matmul": _MATMUL,
    "matvec": _MATMUL,
    "vecmat": _MATMUL,
    "dot": _MATMUL,
    "outer": _source_call,
    "sum": _method("sum"),
    "mean": _method("mean"),
    "amax": _method("max"),
    "amin": _method("min"),
    "shift": _source_call,
    "squeeze": _source_call,
    "transpose": _transpose,
    "reshape": _source_call,
    "reshape_like": _source_call,
    "expand": _source_call,
    "expand_dims": _source_call,
    "count": _source_call,
    "gather": _gather,
    "scatter_add": _source_call,
    "slice": _slice,
    "unslice": _source_call,
    "where": _source_call,
    "arange": _source_call,
    "dim": _source_call,
}


# -- torch: tensors, any device and dtype ----------------------------------------------


def _torch_function(attr: str) -> Rule:
    """``torch.attr(x)``; of constants only (``exp(2)`` as written), ``math.attr``:
    a number, placed on no device."""

    def rule(p: Printer, op: Op) -> _Text:
        if all(isinstance(a, Const) for a in op.args):
            return p.call(p.ref("math", attr), op.args)
        return p.call(p.ref("torch", attr), op.args)

    return rule


def _dims(params: dict, keep: bool | None = None) -> str:
    parts = []
    if params.get("axis") is not None:
        parts.append(f"dim={_axis_text(params['axis'])}")
        if keep if keep is not None else params.get("keepdims"):
            parts.append("keepdim=True")
    return ", ".join(parts)


def _torch_method(name: str, whole: str | None = None) -> Rule:
    """A reduction as a method: ``a.sum(dim=0)``, ``a.amax(dim=1, keepdim=True)``;
    over every axis, ``a.<whole>()``."""

    def rule(p: Printer, op: Op) -> _Text:
        params = dict(op.params)
        method = name if params.get("axis") is not None else (whole or name)
        return _Text(f"{p.receiver(op.args[0])}.{method}({_dims(params)})", ATOM)

    return rule


def _torch_extremum(attr: str, bound: str) -> Rule:
    """n-ary max/min as nested ``torch.maximum``; a constant bound as
    ``torch.clamp(x, min=c)`` (torch.maximum takes tensors only)."""

    def rule(p: Printer, op: Op) -> _Text:
        tensors = [a for a in op.args if not isinstance(a, Const)]
        constants = [a for a in op.args if isinstance(a, Const)]
        if not tensors:  # numbers only: the builtin
            return p.call(op.prim, op.args)
        text = p.text(tensors[0]).text
        for arg in tensors[1:]:
            text = f"{p.ref('torch', attr)}({text}, {p.text(arg).text})"
        for const in constants:
            text = f"{p.ref('torch', 'clamp')}({text}, {bound}={p.text(const).text})"
        return _Text(text, ATOM)

    return rule


def _torch_zeros_like(p: Printer, op: Op) -> _Text:
    return _Text(f"{p.ref('torch', 'zeros_like')}({p.expr(op.args[0])})", ATOM)


def _torch_broadcast_like(p: Printer, op: Op) -> _Text:
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    zeros = p.ref("torch", "zeros_like")
    return _Text(f"{_wrap(g, g.prec < ADD)} + {zeros}({like})", ADD)


def _torch_copy(p: Printer, op: Op) -> _Text:
    return _Text(f"{p.receiver(op.args[0])}.clone()", ATOM)


def _torch_as_float(p: Printer, op: Op) -> _Text:
    return p.call(p.ref("torch", "as_tensor"), op.args)


def _torch_broadcast_to(p: Printer, op: Op) -> _Text:
    """The caller's upstream gradient as a fresh tensor of ``like``'s shape, dtype and
    device (a number is broadcast; a tensor keeps its autograd history)."""
    g, like = p.expr(op.args[0]), p.receiver(op.args[1])
    tensor = (
        f"{p.ref('torch', 'as_tensor')}({g}, dtype={like}.dtype, device={like}.device)"
    )
    return _Text(f"{tensor}.broadcast_to({like}.shape).clone()", ATOM)


def _torch_shift(p: Printer, op: Op) -> _Text:
    params = dict(op.params)
    receiver = p.receiver(op.args[0])
    if params.get("axis") is None:
        return _Text(f"{receiver}.max()", ATOM)
    return _Text(f"{receiver}.amax({_dims(params, keep=True)})", ATOM)


def _torch_squeeze(p: Printer, op: Op) -> _Text:
    axis = op.param("axis")
    inner = "" if axis is None else _axis_text(axis)
    return _Text(f"{p.receiver(op.args[0])}.squeeze({inner})", ATOM)


def _unsqueezed(p: Printer, text: str, axis: object) -> str:
    """``text`` with size-1 axes put in at ``axis`` (an int or a tuple, ascending)."""
    axes = sorted(axis) if isinstance(axis, tuple) else [axis]
    for k in axes:
        text = f"{p.ref('torch', 'unsqueeze')}({text}, {k})"
    return text


def _torch_expand(p: Printer, op: Op) -> _Text:
    """A new tensor shaped like ``like``, filled with g (broadcast); g may be a
    number or a tensor with autograd history (torch.full_like would drop it)."""
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    text = g.text
    axis = op.param("axis")
    if axis is not None and not op.param("keepdims"):
        text = _unsqueezed(p, text, axis)
    elif g.prec < ADD:
        text = f"({text})"
    return _Text(f"{p.ref('torch', 'zeros_like')}({like}) + {text}", ADD)


def _torch_expand_dims(p: Printer, op: Op) -> _Text:
    return _Text(_unsqueezed(p, p.expr(op.args[0]), op.param("axis")), ATOM)


def _torch_count(p: Printer, op: Op) -> _Text:
    a = p.receiver(op.args[0])
    axis = op.param("axis")
    if axis is None:
        return _Text(f"{a}.numel()", ATOM)
    axes = axis if isinstance(axis, tuple) else (axis,)
    text = " * ".join(f"{a}.shape[{k}]" for k in axes)
    return _Text(text, ATOM if len(axes) == 1 else MUL)


def _torch_arange(p: Printer, op: Op) -> _Text:
    """``torch.arange(N, device=X.device)``: on the device of the array N measures."""
    like = op.param("like")
    device = f", device={like}.device" if like else ""
    return _Text(f"{p.ref('torch', 'arange')}({p.expr(op.args[0])}{device})", ATOM)


def _torch_scatter_add(p: Printer, target: str, op: Op) -> str:
    like, *index, value = op.args
    where = ", ".join(p.expr(a) for a in index) + ("," if len(index) == 1 else "")
    return (
        f"{target} = {p.ref('torch', 'zeros_like')}({p.expr(like)})\n"
        f"{target}.index_put_(({where}), {p.expr(value)}, accumulate=True)"
    )


def _torch_unslice(p: Printer, target: str, op: Op) -> str:
    like, value = op.args
    return (
        f"{target} = {p.ref('torch', 'zeros_like')}({p.expr(like)})\n"
        f"{target}[{op.param('index')}] = {p.expr(value)}"
    )


def _torch_softplus(p: Printer, op: Op) -> _Text:
    """max(x, 0) + log1p(exp(-|x|)): exact across the range (torch's own softplus
    switches to x past a threshold)."""
    x = p.expr(op.args[0])
    clamp, log1p, exp = (p.ref("torch", f) for f in ("clamp", "log1p", "exp"))
    return _Text(f"{clamp}({x}, min=0) + {log1p}({exp}(-abs({x})))", ADD)


def _torch_log_sigmoid(p: Printer, op: Op) -> _Text:
    """min(x, 0) - log1p(exp(-|x|))."""
    x = p.expr(op.args[0])
    clamp, log1p, exp = (p.ref("torch", f) for f in ("clamp", "log1p", "exp"))
    return _Text(f"{clamp}({x}, max=0) - {log1p}({exp}(-abs({x})))", ADD)


def _torch_logaddexp(p: Printer, op: Op) -> _Text:
    """``torch.logaddexp(a, b)``; a constant side becomes a tensor like the other."""
    a, b = op.args
    if isinstance(a, Const) and not isinstance(b, Const):
        a, b = b, a
    if isinstance(b, Const) and not isinstance(a, Const):
        full = f"{p.ref('torch', 'full_like')}({p.expr(a)}, {p.expr(b)})"
        return _Text(f"{p.ref('torch', 'logaddexp')}({p.expr(a)}, {full})", ATOM)
    return p.call(p.ref("torch", "logaddexp"), op.args)


def _torch_norm(p: Printer, op: Op) -> _Text:
    """The Euclidean norm, ``torch.linalg.vector_norm(a, dim=..., keepdim=...)``."""
    params = dict(op.params)
    inner = _dims(params)
    name = p.ref("torch", "linalg")
    args = p.expr(op.args[0]) + (f", {inner}" if inner else "")
    return _Text(f"{name}.vector_norm({args})", ATOM)


def _torch_where(p: Printer, op: Op) -> _Text:
    return p.call(p.ref("torch", "where"), op.args)


TORCH: dict[str, Rule] = {
    **_OPERATORS,
    "exp": _torch_function("exp"),
    "log": _torch_function("log"),
    "sqrt": _torch_function("sqrt"),
    "sin": _torch_function("sin"),
    "cos": _torch_function("cos"),
    "tan": _torch_function("tan"),
    "tanh": _torch_function("tanh"),
    "sigmoid": _function("torch", "sigmoid"),
    "relu": _function("torch", "relu"),
    "abs": _builtin("abs"),
    "max": _torch_extremum("maximum", "min"),
    "min": _torch_extremum("minimum", "max"),
    "sign": _function("torch", "sign"),
    "zeros_like": _torch_zeros_like,
    "copy": _torch_copy,
    "broadcast_like": _torch_broadcast_like,
    "as_float": _torch_as_float,
    "broadcast_to": _torch_broadcast_to,
    "matmul": _MATMUL,
    "matvec": _MATMUL,
    "vecmat": _MATMUL,
    "dot": _MATMUL,
    "outer": _function("torch", "outer"),
    "sum": _torch_method("sum"),
    "mean": _torch_method("mean"),
    "amax": _torch_method("amax", "max"),
    "amin": _torch_method("amin", "min"),
    "shift": _torch_shift,
    "squeeze": _torch_squeeze,
    "transpose": _transpose,
    "reshape": _np_reshape,
    "reshape_like": _np_reshape_like,
    "expand": _torch_expand,
    "expand_dims": _torch_expand_dims,
    "count": _torch_count,
    "gather": _gather,
    "scatter_add": _Statement(_torch_scatter_add),
    "slice": _slice,
    "unslice": _Statement(_torch_unslice),
    "where": _torch_where,
    "softplus": _torch_softplus,
    "log_sigmoid": _torch_log_sigmoid,
    "log1p": _torch_function("log1p"),
    "expm1": _torch_function("expm1"),
    "logaddexp": _torch_logaddexp,
    "norm": _torch_norm,
    "arange": _torch_arange,
    "dim": _np_dim,
}


#: backend -> (its table, how it writes pi: (module, attribute), or (None, bare name))
TABLES: dict[str, tuple[dict[str, Rule], tuple[str | None, str]]] = {
    "numpy": (NUMPY, ("numpy", "pi")),
    "math": (MATH, ("math", "pi")),
    "torch": (TORCH, ("math", "pi")),
    "source": (SOURCE, (None, "pi")),
}


_SOURCE = Printer("source")


def source_statement(stmt: Stmt) -> str:
    """A statement in the user's notation: ``f = sigmoid(e)``."""
    return _SOURCE.statement(stmt)
