"""The printer's core, shared by every backend: statements -> Python source lines
through a table from primitive to printing function.

The operators (``+ - * / ** @``, unary minus, comparisons), with their precedence and
black's spacing, are printed once for all backends by :func:`infix`, :func:`_pow` and
:func:`_neg` (:data:`OPERATORS`); the building blocks here (:func:`function`,
:func:`method`, ...) serve the tables of :mod:`codegen.print_numpy`,
:mod:`codegen.print_math`, :mod:`codegen.print_torch` and :mod:`codegen.print_source`.
A primitive missing from a backend's table is a
:class:`~codegen.errors.MissingRuleError` naming both, never code borrowed from another
backend.

A printing function names a module's attribute only through :meth:`TablePrinter.ref`,
which notes the module; :meth:`TablePrinter.imports` then gives the import lines for
exactly what was printed.

The printer writes what black would write for a line that fits (spacing, parentheses,
``x**2`` hugging), so large modules can skip black; ``tests/test_formatting.py`` holds
it to that.  It never renames: names are fixed before printing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import MissingRuleError
from .ir import Const, Expr, Op, Stmt, Var
from .primitives import plain_number

if TYPE_CHECKING:
    from .ir import Type

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
class Text:
    text: str
    prec: int
    simple: bool = False  # a NAME, number or attribute chain: black hugs ``**`` on it


def wrap(part: Text, needs: bool) -> str:
    return f"({part.text})" if needs else part.text


#: a printing function: the printer (for its helpers) and the operation -> printed text
Rule = Callable[["TablePrinter", Op], Text]


class Statement:
    """A primitive printed as statements of its own (``np.add.at`` returns nothing):
    it can be the whole right side of a plain assignment, never part of an expression.
    ``lines(printer, target, op)`` returns the lines joined by newlines."""

    __slots__ = ("lines",)

    def __init__(self, lines: Callable[[TablePrinter, str, Op], str]) -> None:
        self.lines = lines

    def __call__(self, p: TablePrinter, op: Op) -> Text:
        raise MissingRuleError(
            f"primitive '{op.prim}' prints as statements of its own "
            f"({p.backend} backend), not inside an expression"
        )


class StatementOrExpression(Statement):
    """A primitive with two spellings: statements of their own when it is the whole
    right side of an assignment (``lines``), an expression elsewhere (``text``)."""

    __slots__ = ("text",)

    def __init__(
        self, lines: Callable[[TablePrinter, str, Op], str], text: Rule
    ) -> None:
        super().__init__(lines)
        self.text = text

    def __call__(self, p: TablePrinter, op: Op) -> Text:
        return self.text(p, op)


#: how a backend writes pi: (module, attribute), or (None, the bare name)
Pi = tuple[str | None, str]


class TablePrinter:
    """Prints expressions and statements with one backend's table ``rules`` and
    remembers which modules the printed text refers to (see :meth:`imports`).
    :class:`codegen.printing.Printer` is this printer with the table found by name.

    ``types`` (name -> :class:`~codegen.shapes.Type`) gives the dtype of a name
    (:meth:`dtype`).  The printer also follows, statement by statement, which names
    hold numbers computed from constants and sizes alone (:meth:`number`): Python
    numbers in a module whose inputs are arrays or tensors."""

    __slots__ = (
        "backend",
        "_rules",
        "_pi",
        "_used",
        "_helpers",
        "_types",
        "_numbers",
        "_by_name",
        "_taken",
        "_imported",
    )

    def __init__(
        self,
        backend: str,
        rules: dict[str, Rule],
        pi: Pi,
        types: Mapping[str, Type] | None = None,
        by_name: Collection[str] = (),
        taken: Collection[str] | None = None,
    ) -> None:
        self.backend = backend
        self._rules, self._pi = rules, pi
        self._used: set[str] = set()
        # modules whose attributes are imported by name (``from math import exp``):
        # only when every name of the module printed is known (``taken``), and then
        # for attributes no name of the module takes
        self._by_name = frozenset(by_name) if taken is not None else frozenset()
        self._taken = frozenset(taken or ())
        self._imported: dict[str, set[str]] = {}
        self._helpers: set[str] = set()
        self._types: Mapping[str, Type] = types or {}
        self._numbers: set[str] = set()

    def dtype(self, node: Expr) -> str | None:
        """The dtype (``"float"``, ``"int"``, ``"bool"``) of a name with a known
        type; None for anything else."""
        if isinstance(node, Var):
            kind = self._types.get(node.name)
            return None if kind is None else kind.dtype
        return None

    def number(self, node: Expr) -> bool:
        """Whether ``node`` is computed from constants and sizes alone (no input,
        nothing an input's values flow into), judged from the statements printed so
        far."""
        return plain_number(node, self._numbers)

    def _note_number(self, stmt: Stmt) -> None:
        number = self.number(stmt.expr)
        if stmt.accumulate:
            number = number and stmt.target in self._numbers
        if number:
            self._numbers.add(stmt.target)
        else:
            self._numbers.discard(stmt.target)

    # -- what the printing functions use --------------------------------------------

    def ref(self, module: str, attr: str) -> str:
        """``module``'s ``attr`` as printed code names it (``np.exp``), noting that
        the text printed now needs ``module`` imported.  An attribute of a module the
        backend imports by name is printed bare (``exp``) unless a name of the printed
        module takes it (a variable ``exp``: then ``math.exp``)."""
        if module in self._by_name and attr not in self._taken:
            self._imported.setdefault(module, set()).add(attr)
            return attr
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

    def text(self, node: Expr) -> Text:
        """A node printed, with the precedence its context needs to wrap it."""
        # backward expressions are small trees; forward statements are one level deep
        if isinstance(node, Var):
            return Text(node.name, ATOM, True)
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

    def call(self, name: str, args: tuple[Expr, ...]) -> Text:
        """``name(arg, ...)``."""
        return Text(f"{name}({', '.join(self.text(a).text for a in args)})", ATOM)

    def receiver(self, node: Expr) -> str:
        """A node printed before ``.attribute`` or ``[index]``."""
        part = self.text(node)
        return wrap(part, part.prec < ATOM or part.text.startswith("-"))

    def _const(self, const: Const) -> Text:
        text = const.text
        if text == "pi":
            module, attr = self._pi
            return Text(self.ref(module, attr) if module else attr, ATOM, True)
        if " / " in text:  # a rational, -2 / 3 included: a quotient, not a unary minus
            return Text(text, MUL)
        if text.startswith("-"):
            return Text(text, UNARY, True)
        return Text(text, ATOM, True)

    # -- the public interface ----------------------------------------------------------

    def expr(self, root: Expr) -> str:
        return self.text(root).text

    def statement(self, stmt: Stmt) -> str:
        """``target = value`` (or ``target = target + value``); one line, or several
        joined by newlines for primitives that print as statements of their own.
        Comments and notes are not printed here."""
        text = self._statement(stmt)
        self._note_number(stmt)
        return text

    def _statement(self, stmt: Stmt) -> str:
        expr = stmt.expr
        if isinstance(expr, Op):
            rule = self._rules.get(expr.prim)
            if isinstance(rule, Statement):
                if stmt.accumulate:
                    raise MissingRuleError(
                        f"primitive '{expr.prim}' writes a fresh array and cannot "
                        f"accumulate into '{stmt.target}' ({self.backend} backend)"
                    )
                return rule.lines(self, stmt.target, expr)
            if stmt.accumulate and expr.prim == "neg":
                inner = self.text(expr.args[0])
                rhs = wrap(inner, inner.prec <= ADD)
                return f"{stmt.target} = {stmt.target} - {rhs}"
        value = self.text(expr)
        if stmt.accumulate:
            rhs = wrap(value, value.prec <= ADD)
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
        for module, attrs in self._imported.items():
            names = ", ".join(sorted(attrs))
            sections[MODULES[module][2]].add(f"from {module} import {names}")
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


def infix(symbol: str, prec: int) -> Rule:
    """A left-associative binary operator: ``a - (b - c)``, ``(a + b) * c``; a
    comparison wraps a comparison on either side (``(a > b) > c``: Python would chain
    ``a > b > c``)."""
    below = prec + 1 if prec == CMP else prec  # a left operand below this is wrapped

    def rule(p: TablePrinter, op: Op) -> Text:
        a, b = op.args
        left, right = p.text(a), p.text(b)
        lhs = wrap(left, left.prec < below)
        rhs = wrap(right, right.prec <= prec)
        return Text(f"{lhs} {symbol} {rhs}", prec)

    return rule


def _pow(p: TablePrinter, op: Op) -> Text:
    """Right-associative and tighter than unary minus on its left; black hugs ``**``
    between simple operands (``x**2``, ``x ** (1 / 3)``)."""
    a, b = op.args
    left, right = p.text(a), p.text(b)
    lhs = wrap(left, left.prec <= POW)
    rhs = wrap(right, right.prec < UNARY)
    hug = left.simple and left.prec > POW and right.simple
    return Text(f"{lhs}**{rhs}" if hug else f"{lhs} ** {rhs}", POW)


def _neg(p: TablePrinter, op: Op) -> Text:
    inner = p.text(op.args[0])
    needs = inner.prec < ATOM or inner.text.startswith("-")
    simple = inner.simple and not needs
    return Text("-" + wrap(inner, needs), UNARY, simple)


#: the operators every backend prints the same way
OPERATORS: dict[str, Rule] = {
    "add": infix("+", ADD),
    "sub": infix("-", ADD),
    "mul": infix("*", MUL),
    "div": infix("/", MUL),
    "pow": _pow,
    "neg": _neg,
    "gt": infix(">", CMP),
    "lt": infix("<", CMP),
    "eq": infix("==", CMP),
    "ge": infix(">=", CMP),
    "le": infix("<=", CMP),
    "ne": infix("!=", CMP),
}

MATMUL = infix("@", MUL)
