"""Sizes: an ``int`` where the size is known when generating, the name (a ``str``) of a
dimension (``N``), else a canonical SymPy expression over dimension names (``4*H``,
``H - 2``, ``B*T``, ``H//2``).

In an expression a dimension name is ``sympy.Symbol(name, integer=True,
positive=True)``; an expression is expanded (so ``2*H + 2*H`` is ``4*H`` and
``2*(H + 1)`` is ``2*H + 2``), one that is a number is a Python ``int`` and one that is
a bare name is that name.  Equal sizes therefore compare equal however they are
written; a bare name stays the plain string every stage reads as a dimension name.  :func:`dim_text` writes a size as a Python expression (``H//2``, not
``floor(H/2)``): the notation of messages, slice indices and the module's ``SHAPES``.
Sizes are built from :mod:`ast` nodes, never by parsing text with SymPy.
"""

from __future__ import annotations

import ast
import functools

import sympy
from sympy.printing.str import StrPrinter

#: one dimension of a static shape: a known size, a dimension name, or an expression
#: of dimension names
Dim = int | str | sympy.Expr


@functools.cache
def symbol(name: str) -> sympy.Symbol:
    """The dimension ``name``: a positive integer."""
    return sympy.Symbol(name, integer=True, positive=True)


def expr(dim: Dim) -> int | sympy.Expr:
    """A size to compute with: an int, or a SymPy expression (a name as its symbol)."""
    return symbol(dim) if isinstance(dim, str) else dim


def canonical(value: Dim) -> Dim:
    """``value`` expanded; an ``int`` when it is a number, the name when it is one."""
    if isinstance(value, int | str):
        return value
    expanded = sympy.expand(value)
    if expanded.is_Integer:
        return int(expanded)
    if expanded.is_Symbol:
        return expanded.name
    return expanded


def plus(a: Dim, b: Dim) -> Dim:
    return canonical(expr(a) + expr(b))


def minus(a: Dim, b: Dim) -> Dim:
    return canonical(expr(a) - expr(b))


def times(a: Dim, b: Dim) -> Dim:
    return canonical(expr(a) * expr(b))


def floordiv(value: Dim, divisor: int) -> Dim:
    """``value // divisor`` for a positive integer ``divisor``."""
    if isinstance(value, int):
        return value // divisor
    return canonical(sympy.floor(expr(value) / divisor))


class _Printer(StrPrinter):
    """SymPy's text, with floor division written as Python writes it."""

    def _print_floor(self, expr: sympy.Expr) -> str:
        numer, denom = expr.args[0].as_numer_denom()
        inner = self._print(numer)
        if not (numer.is_Symbol or numer.is_Integer):
            inner = f"({inner})"
        return f"{inner}//{self._print(denom)}"


_PRINTER = _Printer()


def dim_text(dim: Dim) -> str:
    """A size as a Python expression: ``3``, ``N``, ``4*H``, ``H - 2``, ``H//2``."""
    if isinstance(dim, int | str):
        return str(dim)
    return _PRINTER.doprint(dim)


def dim_name(dim: Dim) -> str | None:
    """The name of a size that is a bare dimension name (``N``), else None."""
    return dim if isinstance(dim, str) else None


def dim_names(dim: Dim) -> list[str]:
    """The dimension names a size mentions, sorted."""
    if isinstance(dim, int):
        return []
    if isinstance(dim, str):
        return [dim]
    return sorted(s.name for s in dim.free_symbols)


def may_be_nonnegative(dim: Dim) -> bool:
    """A known size that is at least 0, or an expression no dimension makes smaller
    as it grows (``N - 2``, ``2*H``; not ``7 - N``): what can be a size."""
    if isinstance(dim, int):
        return dim >= 0
    if isinstance(dim, str):
        return True
    # floor(u) grows as u does: read through it for the growth of the whole
    smooth = sympy.expand(dim.replace(sympy.floor, lambda u: u))
    if smooth.is_Number:
        return bool(smooth >= 0)
    terms = smooth.as_coefficients_dict()
    return all(coeff >= 0 for term, coeff in terms.items() if term != 1)


class SizeProblem(ValueError):
    """Why an expression is not a size: the message, and the node to blame."""

    def __init__(self, message: str, node: ast.AST) -> None:
        super().__init__(message)
        self.node = node


#: what a size may say, for messages
SIZE_SYNTAX = "dimension names, integers, + - * and // by a positive integer"


def from_ast(root: ast.expr) -> Dim:
    """The size an expression of dimension names and integers states (``4*H``,
    ``H - 2``, ``B*T``, ``H//2``); anything else is a :class:`SizeProblem`.
    Iterative: the expression is read node by node, never evaluated."""
    values: dict[int, Dim] = {}
    stack: list[tuple[ast.expr, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, ast.Name):
            values[id(node)] = node.id
        elif isinstance(node, ast.Constant):
            if type(node.value) is not int:
                raise SizeProblem(
                    f"a size is a whole number, not {node.value!r} ({SIZE_SYNTAX})",
                    node,
                )
            values[id(node)] = node.value
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            if not expanded:
                stack += [(node, True), (node.operand, False)]
                continue
            value = values.pop(id(node.operand))
            negative = isinstance(node.op, ast.USub)
            values[id(node)] = times(-1, value) if negative else value
        elif isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv
        ):
            if not expanded:
                stack += [(node, True), (node.right, False), (node.left, False)]
                continue
            values[id(node)] = _binop(
                node, values.pop(id(node.left)), values.pop(id(node.right))
            )
        else:
            hint = (
                " (write // for a size divided by an integer)"
                if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div))
                else ""
            )
            raise SizeProblem(
                f"unsupported size '{ast.unparse(node)}': a size is written with "
                f"{SIZE_SYNTAX}{hint}",
                node,
            )
    return values[id(root)]


def _binop(node: ast.BinOp, a: Dim, b: Dim) -> Dim:
    if isinstance(node.op, ast.FloorDiv):
        if not isinstance(b, int) or b < 1:
            raise SizeProblem(
                f"'{ast.unparse(node)}': a size is divided (//) by a positive integer "
                "only",
                node,
            )
        return floordiv(a, b)
    if isinstance(node.op, ast.Add):
        return plus(a, b)
    if isinstance(node.op, ast.Sub):
        return minus(a, b)
    return times(a, b)


@functools.cache  # a program has few distinct size texts
def from_text(text: str) -> Dim:
    """The size a :func:`dim_text` states (its inverse; read with :mod:`ast`)."""
    return from_ast(ast.parse(text.strip(), mode="eval").body)
