"""The flat-program IR: small frozen data shared by every stage.

An expression is a :class:`Var`, a :class:`Const` or an :class:`Op` (a primitive applied
to expressions).  A statement assigns one expression to a name.  In a *forward* program
produced by :mod:`codegen.linearize` every statement applies exactly one primitive to
atoms (names and constants); transforms such as :mod:`codegen.reverse` may emit small
expression trees (``df * f * (1 - f)``), still over the same primitives, so that their
output is a program of the same kind and can be transformed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from .dims import Dim

#: one dimension of a static shape: an int where the size is known when generating
#: (``3``), else a canonical expression over dimension names (``N``, ``4*H``, ``H - 2``):
#: see :mod:`codegen.dims`, which writes it as a Python expression for messages and the
#: module's ``SHAPES``
Shape = tuple[Dim, ...]


@dataclass(frozen=True, slots=True)
class Type:
    """A value's static type: a dtype (``float``, ``int``, ``bool``) and a shape."""

    dtype: str
    shape: Shape = ()

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def differentiable(self) -> bool:
        return self.dtype == "float"


SCALAR = Type("float")
INT = Type("int")


class _Arith:
    """Operators that build IR trees, so derivative rules read like the math."""

    __slots__ = ()

    def __add__(self, other: object) -> Expr:
        return add(self, lift(other))  # type: ignore[arg-type]

    def __radd__(self, other: object) -> Expr:
        return add(lift(other), self)  # type: ignore[arg-type]

    def __sub__(self, other: object) -> Expr:
        return sub(self, lift(other))  # type: ignore[arg-type]

    def __rsub__(self, other: object) -> Expr:
        return sub(lift(other), self)  # type: ignore[arg-type]

    def __mul__(self, other: object) -> Expr:
        return mul(self, lift(other))  # type: ignore[arg-type]

    def __rmul__(self, other: object) -> Expr:
        return mul(lift(other), self)  # type: ignore[arg-type]

    def __truediv__(self, other: object) -> Expr:
        return div(self, lift(other))  # type: ignore[arg-type]

    def __rtruediv__(self, other: object) -> Expr:
        return div(lift(other), self)  # type: ignore[arg-type]

    def __pow__(self, other: object) -> Expr:
        return power(self, lift(other))  # type: ignore[arg-type]

    def __neg__(self) -> Expr:
        return neg(self)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Var(_Arith):
    name: str


@dataclass(frozen=True, slots=True)
class Const(_Arith):
    """A numeric literal.

    ``value`` is exact (int, Fraction or float); ``text`` is how it is printed, which for
    literals is what the user wrote (``1e-3`` stays ``1e-3``).
    """

    value: int | Fraction | float
    text: str

    @staticmethod
    def of(value: int | Fraction | float) -> Const:
        return Const(value, const_text(value))


@dataclass(frozen=True, slots=True)
class Op(_Arith):
    """A primitive applied to expressions; ``params`` holds static options such as
    ``(("axis", 1), ("keepdims", False))``."""

    prim: str
    args: tuple[Expr, ...]
    params: tuple[tuple[str, object], ...] = ()

    def param(self, name: str, default: object = None) -> object:
        for key, value in self.params:
            if key == name:
                return value
        return default


Expr = Var | Const | Op
Atom = Var | Const


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a derived statement comes from: provenance as data, never prose.

    ``kind`` says what the statement does:

    * ``"undo"``: part of the block that undoes forward statement ``stmt`` (reverse
      mode); ``gate`` is the rule's description of how the gate treats the gradient;
    * ``"upstream"``: shapes or checks the upstream gradient ``names[0]`` of output
      ``names[1]``; ``gate`` is the policy (``"broadcast"``, ``"check"``);
    * ``"zero"``: the gradient of input ``names[1]``, which output ``names[0]`` does not
      depend on.

    The printer writes the comment; statements sharing an origin form one block, whose
    comment heads it, whatever later transforms insert into it.
    """

    kind: str
    stmt: Stmt | None = None
    gate: str = ""
    names: tuple[str, ...] = ()
    #: which differentiation made it (2: a sweep over a program already differentiated)
    level: int = 1


@dataclass(frozen=True, slots=True)
class Stmt:
    """``target = expr``, or ``target = target + expr`` when ``accumulate`` is set.

    ``origin`` records the statement a derived statement comes from (see
    :class:`Origin`); ``note`` is a short trailing comment.
    """

    target: str
    expr: Expr
    accumulate: bool = False
    note: str = ""
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class Program:
    """Straight-line code: ``inputs`` in, ``stmts`` in order, ``outputs`` out.

    ``types`` maps every name to its static type (:class:`Type`); it is
    read-only (a copy of what the constructor is given), and empty for untyped programs,
    whose names are all float scalars.
    """

    inputs: tuple[str, ...]
    stmts: tuple[Stmt, ...]
    outputs: tuple[str, ...]
    types: Mapping[str, Type] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.types, MappingProxyType):
            object.__setattr__(self, "types", MappingProxyType(dict(self.types)))


def const_text(value: int | Fraction | float) -> str:
    """Python source for an exact constant: ``2``, ``0.5``, ``1 / 3``, ``-2.5``."""
    if isinstance(value, bool):
        raise TypeError("booleans are not constants")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        as_float = float(value)
        if Fraction(as_float) == value:
            return repr(as_float)
        return f"{value.numerator} / {value.denominator}"
    return repr(float(value))


def count_ops(expr: Expr) -> int:
    """Arithmetic operations in an expression tree (no recursion)."""
    total = 0
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Op):
            total += 1
            stack.extend(node.args)
    return total


def all_names(program: Program) -> list[str]:
    """Every name a program mentions (inputs, targets, names read), with repeats."""
    names = list(program.inputs)
    for stmt in program.stmts:
        names.append(stmt.target)
        names.extend(names_in(stmt.expr))
    return names


def reuse_names(
    expr: Expr, known: Mapping[Expr, str], used: list[str] | None = None
) -> Expr:
    """``expr`` with each subtree (largest first) that ``known`` maps to a name
    replaced by that name, the names appended to ``used``: a value already computed
    by a statement is read, not computed again.  Expressions are a few nodes deep."""
    name = known.get(expr) if isinstance(expr, Op) else None
    if name is not None:
        if used is not None:
            used.append(name)
        return Var(name)
    if isinstance(expr, Op):
        args = tuple(reuse_names(a, known, used) for a in expr.args)
        if args != expr.args:
            return Op(expr.prim, args, expr.params)
    return expr


def names_in(expr: Expr) -> list[str]:
    """Variable names read by ``expr``, in first-appearance order, without repeats."""
    seen: dict[str, None] = {}
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Var):
            seen.setdefault(node.name, None)
        elif isinstance(node, Op):
            stack.extend(reversed(node.args))
    return list(seen)


# --- smart constructors: light, exact simplification (x * 1 -> x, 2 - 1 -> 1) -------------

Number = int | Fraction | float


def lift(value: object) -> Expr:
    if isinstance(value, Var | Const | Op):
        return value
    if isinstance(value, int | Fraction | float) and not isinstance(value, bool):
        return Const.of(value)
    raise TypeError(f"cannot use {value!r} in an expression")


def _num(expr: Expr) -> Number | None:
    """The exact value of a plain numeric constant (not ``pi``), else None."""
    if isinstance(expr, Const) and expr.text != "pi":
        return expr.value
    return None


def _fold(value: Number) -> Const:
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    return Const.of(value)


def add(a: Expr, b: Expr) -> Expr:
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return _fold(x + y)
    if x == 0:
        return b
    if y == 0:
        return a
    return Op("add", (a, b))


def sub(a: Expr, b: Expr) -> Expr:
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return _fold(x - y)
    if y == 0:
        return a
    if x == 0:
        return neg(b)
    return Op("sub", (a, b))


def mul(a: Expr, b: Expr) -> Expr:
    x, y = _num(a), _num(b)
    if x is not None and y is not None:
        return _fold(x * y)
    if x == 1:
        return b
    if y == 1:
        return a
    if x == -1:
        return neg(b)
    if y == -1:
        return neg(a)
    return Op("mul", (a, b))


def div(a: Expr, b: Expr) -> Expr:
    x, y = _num(a), _num(b)
    if x is not None and y is not None and y != 0:
        if isinstance(x, float) or isinstance(y, float):
            return _fold(x / y)
        return _fold(Fraction(x) / Fraction(y))
    if y == 1:
        return a
    return Op("div", (a, b))


def neg(a: Expr) -> Expr:
    x = _num(a)
    if x is not None:
        return _fold(-x)
    if isinstance(a, Op) and a.prim == "neg":
        return a.args[0]
    return Op("neg", (a,))


def power(a: Expr, b: Expr) -> Expr:
    if _num(b) == 1:
        return a
    return Op("pow", (a, b))


def call(prim: str, *args: Expr, **params: object) -> Op:
    return Op(prim, tuple(args), tuple(sorted(params.items())))
