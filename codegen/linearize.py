"""Parsed source -> flat forward program: one primitive per statement over atoms.

This is the one place that builds the graph: user names are kept, unnamed subexpressions
get fresh temporaries in trace order (identical ones are shared), and constant
subexpressions are folded by SymPy (only where the result is a plain finite number, so
``2 * pi`` or ``exp(2)`` stay as written).  All traversals are iterative.

Every statement is made by one constructor (``_Builder._emit``, then ``_define``): its
type comes from the shape rules of :mod:`codegen.shapes`, its constants are checked and a
repeated value is shared, slices and gathers included.  User functions are lowered by
the table ``_LOWERINGS``; ``_Assignments`` alone decides what assigning a name does.
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

import sympy

from codegen.errors import InputError, OptionError
from codegen.ir import Atom, Const, Op, Origin, Program, Stmt, Var
from codegen.naming import Namer, name_problem, repeated
from codegen.parse import BINOPS, COMPARE, Decl, Dim, Parsed, is_int_literal, parse
from codegen.passes import share
from codegen.primitives import NUMERIC_AT_CONSTANTS, PRIMITIVES
from codegen.reverse import reverse
from codegen.shapes import (
    SCALAR,
    IndexItem,
    IndexProblem,
    Type,
    check_gather,
    index_text,
    show,
    sliced,
    symbolic_offset,
    symbolic_size,
)
from codegen.symbolic import const_to_sympy, meaning
from codegen.transforms import prepare
from codegen.typecheck import const_type, infer

MAX_FOLD_EXPONENT = 1024


def literal_text(raw: str) -> str:
    """A literal as the user wrote it, normalised the way black prints literals."""
    lower = raw.lower()
    if lower.startswith("0x"):
        return "0x" + raw[2:].upper()
    return lower


def fold(prim: str, args: tuple[Const, ...]) -> Const | None:
    """Fold a primitive over constants with SymPy, if the result is a finite number."""
    if any(a.text == "pi" for a in args) and prim != "neg":
        return None
    if prim == "pow":
        exponent = args[1].value
        if abs(exponent) > MAX_FOLD_EXPONENT or abs(args[0].value) > 2**64:
            return None
    try:
        result = meaning(prim)(*(const_to_sympy(a) for a in args))
    except (ZeroDivisionError, ValueError, TypeError):
        return None
    if not getattr(result, "is_Number", False) or not result.is_finite:
        return None
    if isinstance(result, sympy.Integer):
        return Const.of(int(result))
    if isinstance(result, sympy.Rational):
        return Const.of(Fraction(int(result.p), int(result.q)))
    return Const.of(float(result))


def _complex_power(args: tuple[Atom, ...]) -> bool:
    """``(-8) ** (1/3)``: complex in Python and nan in NumPy, on every call."""
    a, b = args
    if not (isinstance(a, Const) and isinstance(b, Const)) or a.text == "pi":
        return False
    power = b.value
    whole = isinstance(power, int) or (
        isinstance(power, Fraction) and power.denominator == 1
    )
    return a.value < 0 and not whole and not float(power).is_integer()


def _zero_division(prim: str, args: tuple[Atom, ...]) -> bool:
    """``a / 0`` or ``0 ** -k`` with constants (a divisor that rounds to 0.0, like
    10**-400, included): an error on every call, so refused."""
    a, b = args
    if prim == "div":
        return isinstance(b, Const) and _rounds_to_zero(b.value)
    return (
        isinstance(a, Const) and a.value == 0 and isinstance(b, Const) and b.value < 0
    )


def _real_float(prim: str, args: tuple[Atom, ...]) -> bool:
    """Whether a function of constants is a finite real float."""
    if any(a.text == "pi" for a in args):  # type: ignore[union-attr]
        return True  # exp(pi) and the like: fine, and left as written
    value = sympy.N(meaning(prim)(*(const_to_sympy(a) for a in args)))  # type: ignore[arg-type]
    if not (value.is_real and value.is_finite):
        return False
    size = float(abs(value))  # 0.0 when it underflows (exp(-1000)): a float still
    return size == 0.0 or _log10(size) <= sys.float_info.max_10_exp


def _rounds_to_zero(value: int | float | Fraction) -> bool:
    if value == 0:
        return True
    try:
        return float(value) == 0.0
    except OverflowError:  # a huge int or ratio: far from zero
        return False


def _log10(value: int | float | Fraction) -> float:
    """log10 of a nonzero number's size; exact enough for huge ints and tiny ratios."""
    value = abs(value)
    if isinstance(value, Fraction):
        return math.log10(value.numerator) - math.log10(value.denominator)
    return math.log10(value)


#: the header's statement of the version rule (``module.py`` states it only for
#: programs that reassign a name: see :func:`reassignment_note`)
REASSIGNMENT_RULE = (
    "Reassigned names (a = a * a, loss += ...): the last value assigned to a name "
    "keeps the name; earlier values are numbered in order, a_1, a_2, ... (a number "
    "the program already uses as a name gets a further _2, _3). An input keeps its "
    "name for the value passed in, so dx is the gradient with respect to that value, "
    "and the values later assigned to it are x_1, x_2, .... The gradient of a_1 is "
    "da_1."
)


class _Assignments:
    """THE place that decides what an assignment to a name does.

    Built from every statement before any is linearized, so that a read can tell an
    input from a name assigned further down.  A name may be assigned several times
    (Python's meaning: a read gets the newest value); each assignment writes its own
    *version*, so the flat program stays single-assignment:

    * the last assignment to a name writes the name itself; earlier ones write
      ``a_1``, ``a_2``, ... in order (a version name the program already uses gets a
      further suffix from the namer: ``a_1_2``);
    * an input that is assigned (declared ``x: float``, or listed in ``--inputs``:
      an undeclared name read before its assignment stays an error, as a likely
      typo) keeps its own name for the value passed in, so its gradient ``dx`` is with respect to that value; every
      assignment to it is a version, ``x_1``, ``x_2``, ..., the last one included.

    Dimension names are never assigned (``_check_dimensions``).
    """

    def __init__(self, parsed: Parsed, inputs: tuple[str, ...] | None) -> None:
        self.where = parsed.where
        self.line: dict[str, int] = {}  # name -> line of its first assignment
        self.count: dict[str, int] = {}  # name -> how many times it is assigned
        #: names that are inputs although assigned: declared or listed
        self.inputs = frozenset(parsed.declared) | frozenset(inputs or ())
        for st in parsed.statements:
            if st.target is not None:
                self.line.setdefault(st.target, st.line)
                self.count[st.target] = self.count.get(st.target, 0) + 1
        self.reassigns = any(st.augmented for st in parsed.statements) or any(
            n > 1 or name in self.inputs for name, n in self.count.items()
        )
        self._made: dict[str, int] = {}  # name -> assignments linearized so far
        self.namer: Namer | None = None

    def written(self, name: str, line: int) -> str:
        """The name that the next assignment to ``name`` (on ``line``) writes; called
        once per statement, in order."""
        made = self._made.get(name, 0) + 1
        self._made[name] = made
        if made == self.count.get(name, 1) and name not in self.inputs:
            return name
        assert self.namer is not None
        return self.namer.fresh(f"{name}_{made}")


def reassigns(parsed: Parsed) -> bool:
    """Whether the program assigns a name twice, updates one (``+=``) or assigns an
    input: then its header states :data:`REASSIGNMENT_RULE`."""
    return _Assignments(parsed, None).reassigns


def reassignment_note(source: str, where: str = "<expr>") -> str | None:
    """The header's sentence on version names, or None when the program (valid
    source) assigns each name once."""
    return REASSIGNMENT_RULE if reassigns(parse(source, where)) else None


class _Call(NamedTuple):
    """A call of a user function, its arguments linearized: what a lowering sees."""

    node: ast.Call
    name: str
    args: tuple[Atom, ...]
    options: dict  # keyword -> literal value (axis=1, keepdims=True)
    target: str | None

    @property
    def params(self) -> tuple[tuple[str, object], ...]:
        return tuple(sorted(self.options.items()))


class _Builder:
    def __init__(self, parsed: Parsed, namer: Namer, assignments: _Assignments) -> None:
        self.parsed = parsed
        self.namer = namer
        self.assignments = assignments
        # name -> the variable holding its value now (assigned names, dimensions read)
        self.current: dict[str, str] = {}
        self.inputs: dict[str, None] = {}
        self.stmts: list[Stmt] = []
        self.shared: dict[Op, str] = {}
        #: name -> the largest index value it holds, as (symbol or "", offset): an
        #: arange(N) holds N-1, a dimension N holds N (see ``_check_range``)
        self.largest: dict[str, tuple[str, int]] = {}
        self._line_bytes: dict[int, bytes] = {}
        self.decls: dict[str, Decl] = dict(parsed.decls)
        self.types: dict[str, Type] = {
            name: Type(d.dtype, d.shape) for name, d in parsed.decls
        }
        # shape symbol -> (input, axis) that defines it
        self.dims: dict[str, tuple[str, int]] = {}
        for name, decl in parsed.decls:
            for axis, dim in enumerate(decl.shape):
                if isinstance(dim, str):
                    self.dims.setdefault(dim, (name, axis))
        self.line = 0
        self.node: ast.AST | None = None
        self._what_line = -1
        self._what_text = ""

    # --- helpers -------------------------------------------------------------------

    def _literal(self, node: ast.Constant) -> Const:
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error("literal is too large to be a finite float", node)
        line = self._line_bytes.get(node.lineno)
        if line is None:
            line = self.parsed.lines[node.lineno - 1].encode()
            self._line_bytes[node.lineno] = line
        raw = ""
        if node.end_lineno == node.lineno and node.end_col_offset is not None:
            raw = line[node.col_offset : node.end_col_offset].decode()
        if not raw or raw.startswith("("):
            raw = repr(value)
        return Const(value, literal_text(raw))

    def _check_const(self, const: Const) -> None:
        """A constant in the program must be a finite float (literals are checked in
        ``_literal``; this catches folded ones, like 10**400)."""
        if const.value:
            self._check_size(_log10(const.value))

    def _check_size(self, log10: float) -> None:
        if log10 > sys.float_info.max_10_exp:
            size = (
                f"about 10**{int(log10)}"
                if math.isfinite(log10)
                else "overflows to inf"
            )
            raise self._error(
                f"{self._what()}: a constant here is too large for a float ({size})",
                self.node,
            )

    def _error(self, message: str, node: ast.AST | None) -> InputError:
        return InputError(message, self._where(node))

    def _where(self, node: ast.AST | None) -> str:
        if node is None or not hasattr(node, "lineno"):
            return f"{self.parsed.where}:{self.line}"
        return f"{self.parsed.where}:{node.lineno}:{node.col_offset + 1}"

    def _what(self) -> str:
        """The statement being built, for messages: ``in 'q = x @ w'``."""
        if self._what_line != self.line:  # asked for every statement made: memoized
            text = self.parsed.lines[self.line - 1].strip() if self.line else ""
            self._what_text = (
                f"in '{text}'" if len(text) <= 100 else f"in line {self.line}"
            )
            self._what_line = self.line
        return self._what_text

    def type_of(self, atom: Atom) -> Type:
        if isinstance(atom, Const):
            return const_type(atom)
        return self.types.get(atom.name, SCALAR)

    def _name(self, node: ast.Name, line: int) -> Atom:
        name = node.id
        if name == "pi":
            return Const(math.pi, "pi")
        held = self.current.get(name)
        if held is not None:
            return Var(held)
        assigned = self.assignments.line.get(name)
        if (
            assigned is not None
            and assigned >= line
            and name not in self.assignments.inputs
        ):
            hint = ""
            if not (name in self.dims and name not in self.decls):
                hint = f"; to reassign an input, declare it first ('{name}: float')"
            raise self._error(
                f"'{name}' is used before it is assigned (line {assigned}){hint}",
                node,
            )
        if name in self.dims and name not in self.decls:
            source, axis = self.dims[name]
            self.inputs.setdefault(source, None)
            self._emit("dim", (Var(source),), name, (("axis", axis),))
            self.largest[name] = (name, 0)
            self.current[name] = name
            return Var(name)
        self.inputs.setdefault(name, None)
        return Var(name)

    # --- the one statement constructor ----------------------------------------------

    def _emit(
        self,
        prim: str,
        args: tuple[Atom, ...],
        target: str | None,
        params: tuple[tuple[str, object], ...] = (),
    ) -> Atom:
        """``prim(*args)`` into ``target`` (or a shared temporary): its type from the
        shape rules, checked, folded when its arguments are constants.  Callers do
        the checks that need the source (index ranges, slice lengths) first."""
        types = [self.type_of(a) for a in args]
        if prim == "matmul":
            prim = {(2, 2): "matmul", (2, 1): "matvec", (1, 2): "vecmat"}.get(
                (types[0].rank, types[1].rank), "dot"
            )
        result = infer(
            prim, types, dict(params), self._what(), self._where(self.node), args
        )
        if (
            prim == "pow"
            and all(t.dtype == "int" for t in types)
            and (result.rank or not isinstance(args[0], Const))
        ):
            # int arrays, and NumPy ints such as sum(y) (a dimension N is a Python
            # int and would not fail, but N ** -1.0 says the same)
            power = args[1]
            if not (isinstance(power, Const) and power.value >= 0):
                raise self._error(
                    f"{self._what()}: NumPy takes an int to an int power in integers "
                    "and refuses negative powers; make one side a float "
                    "(y ** -1.0, 2.0 ** y)",
                    self.node,
                )
        if prim == "pow" and _complex_power(args):
            raise self._error(
                f"{self._what()}: a negative constant to a fractional power is not a "
                "real number",
                self.node,
            )
        if prim in ("div", "pow") and _zero_division(prim, args):
            raise self._error(
                f"{self._what()}: division by zero (a constant 0 "
                + ("divisor)" if prim == "div" else "to a negative power)"),
                self.node,
            )
        if (
            not params
            and PRIMITIVES[prim].meaning is not None
            and all(isinstance(a, Const) for a in args)
        ):
            folded = fold(prim, args)  # type: ignore[arg-type]
            if folded is not None:
                if target is None:
                    return (
                        folded  # its user checks its size (10**400 / 10**399 is fine)
                    )
                return self._define(folded, const_type(folded), target)
            if prim == "pow":  # too large to fold: 10**4999 stays a power
                base, power = (a.value for a in args)  # type: ignore[union-attr]
                if abs(base) > 1 and power > 0:
                    self._check_size(float(power) * _log10(base))
            elif prim in NUMERIC_AT_CONSTANTS and not _real_float(prim, args):
                text = ", ".join(a.text for a in args)  # type: ignore[union-attr]
                raise self._error(
                    f"{self._what()}: {prim}({text}) is not a finite real float",
                    self.node,
                )
        return self._define(Op(prim, args, params), result, target)

    def _define(self, expr: Op | Atom, kind: Type, target: str | None) -> Var:
        """THE place a statement is made: its constants checked, a value without a
        target shared (an identical one computed before is reused), its type recorded.
        """
        if isinstance(expr, Const):
            self._check_const(expr)
        elif isinstance(expr, Op):
            for arg in expr.args:
                if isinstance(arg, Const):
                    self._check_const(arg)
        if target is None:
            assert isinstance(expr, Op)
            name = self.shared.get(expr)
            if name is None:
                name = self.namer.temp()
                self.shared[expr] = name
                self.types[name] = kind
                self.stmts.append(Stmt(name, expr))
            return Var(name)
        self.types[target] = kind
        self.stmts.append(Stmt(target, expr))
        return Var(target)

    # --- calls, subscripts, attributes ----------------------------------------------

    def _call(self, node: ast.Call, args: tuple[Atom, ...], target: str | None) -> Atom:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        options = {kw.arg: _literal_value(kw.value) for kw in node.keywords}
        return _LOWERINGS[name](self, _Call(node, name, args, options, target))

    def _need_array(self, name: str, arg: Atom, node: ast.AST) -> None:
        if self.type_of(arg).rank == 0:
            what = f"'{name}'" if name.startswith(".") else f"{name}()"
            raise self._error(
                f"{what} works on arrays, but its argument is a scalar "
                "(declare array inputs, e.g. 'x: array[N]')",
                node,
            )

    def _slice(
        self, node: ast.Subscript, base: Atom, items: list[ast.expr], target: str | None
    ) -> Atom:
        index: list[IndexItem] = []
        for item in items:
            if not isinstance(item, ast.Slice):
                index.append(int(_literal_value(item)))  # type: ignore[call-overload]
                continue
            lo, hi, step = (
                None if part is None else int(_literal_value(part))  # type: ignore[call-overload]
                for part in (item.lower, item.upper, item.step)
            )
            index.append((lo, hi, step))
        try:
            sliced(self.type_of(base).shape, tuple(index))
        except IndexProblem as problem:
            raise self._error(str(problem), node) from None
        params = (("index", index_text(tuple(index))),)
        return self._emit("slice", (base,), target, params)

    def _subscript(
        self, node: ast.Subscript, base: Atom, index: list[Atom], target: str | None
    ) -> Atom:
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        static = [isinstance(i, ast.Slice) or is_int_literal(i) for i in items]
        if all(static):
            return self._slice(node, base, items, target)
        if any(isinstance(item, ast.Slice) for item in items):
            raise self._error(
                "mixing slices with index arrays is not supported; "
                "index with arrays only, or with slices and integers only",
                node,
            )
        try:
            check_gather(self.type_of(base), [self.type_of(a) for a in index])
        except IndexProblem as problem:
            raise self._error(str(problem), node) from None
        self._check_range(node, self.type_of(base).shape, index, items)
        return self._emit("gather", (base, *index), target)

    def _check_range(
        self,
        node: ast.AST,
        shape: tuple[Dim, ...],
        index: list[Atom],
        items: list[ast.expr],
    ) -> None:
        """Refuse an index that is out of range on every input: ``X[N]`` for ``X``
        of ``N`` rows, ``X[arange(N)]`` for ``N-1`` rows, ``y[:, 3]`` for 3 columns.
        Sizes are compared as symbol + offset (``N-1``); what cannot be proved (an
        int 5 on an axis of ``N``) is left to run time."""
        for axis, (atom, size, item) in enumerate(
            zip(index, shape, items, strict=False)
        ):
            if isinstance(atom, Const) and type(atom.value) is int:
                largest: tuple[str, int] | None = ("", atom.value)
                smallest = atom.value
            elif isinstance(atom, Var):
                largest, smallest = self.largest.get(atom.name), 0
            else:
                continue
            if largest is None:
                continue
            symbol, offset = (
                ("", size) if isinstance(size, int) else symbolic_offset(size)
            )
            beyond = largest[0] == symbol and largest[1] >= offset
            below = symbol == "" and smallest < -offset
            if beyond or below:
                last = offset - 1 if symbol == "" else symbolic_size(symbol, offset - 1)
                raise self._error(
                    f"{self._what()}: index {ast.unparse(item)} is out of range for "
                    f"axis {axis} of size {size} (its indices run from 0 to {last})",
                    node,
                )

    # --- statements -----------------------------------------------------------------

    def statement(self, root: ast.expr, name: str, line: int) -> str:
        """Emit the statements computing ``root`` for an assignment to ``name`` (or
        the output) on ``line``, iteratively; return the variable written."""
        self.line = line
        target = self.assignments.written(name, line)
        values: dict[int, Atom] = {}
        stack: list[tuple[ast.expr, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            top = node is root
            self.node = node
            out = target if top else None
            if isinstance(node, ast.Name):
                values[id(node)] = self._name(node, line)
            elif isinstance(node, ast.Constant):
                values[id(node)] = self._literal(node)
            elif not expanded:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(_children(node)))
            elif isinstance(node, ast.BinOp):
                args = (values.pop(id(node.left)), values.pop(id(node.right)))
                prim = BINOPS[type(node.op)]
                values[id(node)] = self._emit(prim, args, out)
            elif isinstance(node, ast.UnaryOp):
                operand = values.pop(id(node.operand))
                if isinstance(node.op, ast.UAdd):
                    values[id(node)] = operand
                elif isinstance(operand, Const) and operand.text != "pi":
                    values[id(node)] = Const(-operand.value, _negate(operand.text))
                else:
                    values[id(node)] = self._emit("neg", (operand,), out)
            elif isinstance(node, ast.Compare):
                args = (values.pop(id(node.left)), values.pop(id(node.comparators[0])))
                prim = COMPARE[type(node.ops[0])]
                values[id(node)] = self._emit(prim, args, out)
            elif isinstance(node, ast.Attribute):
                operand = values.pop(id(node.value))
                self._need_array(".T", operand, node)
                values[id(node)] = self._emit("transpose", (operand,), out)
            elif isinstance(node, ast.Subscript):
                base = values.pop(id(node.value))
                index = [values.pop(id(c)) for c in _children(node)[1:]]
                values[id(node)] = self._subscript(node, base, index, out)
            else:
                assert isinstance(node, ast.Call)
                args = tuple(values.pop(id(a)) for a in node.args)
                values[id(node)] = self._call(node, args, out)
        result = values[id(root)]
        if not (isinstance(result, Var) and result.name == target):
            # a plain name or constant (or a folded constant): a copy statement
            self._define(result, self.type_of(result), target)
        self.current[name] = target
        return target


# --- lowering of user functions: one small function per name --------------------------


def _elementwise(b: _Builder, c: _Call) -> Atom:
    """exp, log, sqrt, sin, cos, tan, tanh, sigmoid, relu, abs: their own primitive."""
    if c.options:
        raise b._error(f"{c.name}() takes no keyword arguments", c.node)
    return b._emit(c.name, c.args, c.target)


def _extremum(b: _Builder, c: _Call) -> Atom:
    """max(a, axis=...) reduces an array; max(a, b, ...) compares values (min alike)."""
    if len(c.args) == 1:
        if b.type_of(c.args[0]).rank == 0:
            raise b._error(
                f"{c.name}() of one argument reduces an array, but its argument is "
                "a scalar (to compare values, give two or more)",
                c.node,
            )
        prim = "amax" if c.name == "max" else "amin"
        return b._emit(prim, c.args, c.target, c.params)
    if c.options:
        raise b._error(f"{c.name}() of several values takes no axis", c.node)
    return b._emit(c.name, c.args, c.target)


def _maximum(b: _Builder, c: _Call) -> Atom:
    """maximum(0, x) is the ReLU, with the lecture's relu'(0) = 0."""
    zero = [isinstance(a, Const) and a.value == 0 for a in c.args]
    if any(zero) and not all(zero):
        (x,) = [a for a, z in zip(c.args, zero, strict=True) if not z]
        return b._emit("relu", (x,), c.target)
    return b._emit("max", c.args, c.target)


def _minimum(b: _Builder, c: _Call) -> Atom:
    return b._emit("min", c.args, c.target)


def _reduction(b: _Builder, c: _Call) -> Atom:
    """sum and mean over ``axis`` (default: all), ``keepdims``."""
    b._need_array(c.name, c.args[0], c.node)
    return b._emit(c.name, c.args, c.target, c.params)


def _shifted(b: _Builder, a: Atom, axis: object) -> tuple[Atom, Atom, Atom, Atom]:
    """The max-shifted parts of logsumexp / softmax / log_softmax:

        m = a.max(axis, keepdims=True)   # the shift: no gradient (it cancels)
        e = exp(a - m);  z = e.sum(axis, keepdims=True)

    so that their gradients come from the saved ``e`` and ``z`` through the rules of
    exp, sum, div and log.  Returns ``(m, a - m, e, z)``."""
    shift = b._emit("shift", (a,), None, (("axis", axis),))
    centered = b._emit("sub", (a, shift), None)
    e = b._emit("exp", (centered,), None)
    z = b._emit("sum", (e,), None, (("axis", axis), ("keepdims", True)))
    return shift, centered, e, z


def _softmax(b: _Builder, c: _Call) -> Atom:
    """softmax = e / z (see :func:`_shifted`)."""
    b._need_array(c.name, c.args[0], c.node)
    _, _, e, z = _shifted(b, c.args[0], c.options.get("axis", -1))
    return b._emit("div", (e, z), c.target)


def _log_softmax(b: _Builder, c: _Call) -> Atom:
    """log_softmax = (a - m) - log(z)."""
    b._need_array(c.name, c.args[0], c.node)
    _, centered, _, z = _shifted(b, c.args[0], c.options.get("axis", -1))
    log_z = b._emit("log", (z,), None)
    return b._emit("sub", (centered, log_z), c.target)


def _logsumexp(b: _Builder, c: _Call) -> Atom:
    """logsumexp = log(z) + m, squeezed over ``axis`` unless ``keepdims``."""
    b._need_array(c.name, c.args[0], c.node)
    axis = c.options.get("axis")
    shift, _, _, z = _shifted(b, c.args[0], axis)
    log_z = b._emit("log", (z,), None)
    if c.options.get("keepdims"):
        return b._emit("add", (log_z, shift), c.target)
    total = b._emit("add", (log_z, shift), None)
    return b._emit("squeeze", (total,), c.target, (("axis", axis),))


def _transpose(b: _Builder, c: _Call) -> Atom:
    b._need_array(c.name, c.args[0], c.node)
    return b._emit("transpose", c.args, c.target)


def _reshape(b: _Builder, c: _Call) -> Atom:
    """reshape(a, N, 1): its dimensions are dimension names or positive integers, and
    the element count stays (the shape rule checks it).  A scalar (an input, a
    dimension's size, a constant or a value) is refused: the module would call
    ``.reshape`` on a Python number."""
    arg = c.args[0]
    if b.type_of(arg).rank == 0:
        if isinstance(arg, Const):
            kind = "a constant"
        elif arg.name in b.dims and arg.name not in b.decls:
            kind = "the size of a dimension, a number"
        elif arg.name in b.decls or arg.name in b.inputs:
            kind = "a scalar input"
        else:
            kind = "a scalar value"
        raise b._error(
            f"reshape() works on arrays, but '{ast.unparse(c.node.args[0])}' is "
            f"{kind}; use it as it is (it broadcasts)",
            c.node,
        )
    for dim in c.args[1:]:
        positive = isinstance(dim, Const) and isinstance(dim.value, int)
        if not (
            (positive and dim.value >= 1)  # type: ignore[union-attr]
            or (isinstance(dim, Var) and dim.name in b.dims)
        ):
            raise b._error(
                "reshape() dimensions are dimension names (N) or positive integers",
                c.node,
            )
    return b._emit("reshape", c.args, c.target)


def _arange(b: _Builder, c: _Call) -> Atom:
    """arange(N): the indices 0..N-1 of a dimension (or of a positive integer)."""
    (n,) = c.args
    params: tuple[tuple[str, object], ...]
    if isinstance(n, Const) and isinstance(n.value, int) and n.value >= 1:
        length: object = n.value
        params = (("length", length),)
    elif isinstance(n, Var) and n.name in b.dims:
        length = n.name
        # the array N measures: backends that place arrays on devices put it there
        params = (("length", length), ("like", b.dims[n.name][0]))
    else:
        raise b._error(
            "arange() takes a dimension name (N) or a positive integer", c.node
        )
    result = b._emit("arange", c.args, c.target, params)
    if isinstance(result, Var):
        if isinstance(length, int):
            b.largest[result.name] = ("", length - 1)
        else:
            b.largest[result.name] = (str(length), -1)
    return result


def _grad(b: _Builder, c: _Call) -> Atom:
    """grad(y, x): the gradient of the earlier scalar value ``y`` with respect to the
    input ``x``, shaped like ``x``.  The program so far is differentiated here (reverse
    mode, upstream gradient 1) and its backward statements join the forward program,
    flat and single-assignment, so that later statements can use the gradient and the
    whole program can be differentiated again (backpropagating twice)."""
    y, x = c.args
    names = [a.id if isinstance(a, ast.Name) else None for a in c.node.args]
    if names[0] is None or names[1] is None:
        raise b._error("grad(y, x) takes two names: a value and an input", c.node)
    if not isinstance(y, Var) or names[0] not in b.current or names[0] in b.dims:
        raise b._error(
            f"grad({names[0]}, {names[1]}): '{names[0]}' is not a value assigned "
            "before this line",
            c.node,
        )
    if not isinstance(x, Var) or names[1] in b.assignments.line or names[1] in b.dims:
        raise b._error(
            f"grad({names[0]}, {names[1]}): '{names[1]}' is not an input "
            "(differentiate with respect to an input)",
            c.node,
        )
    y_type, x_type = b.type_of(y), b.type_of(x)
    if y_type.rank or not y_type.differentiable:
        raise b._error(
            f"grad({names[0]}, {names[1]}): '{names[0]}' must be a float scalar "
            f"(it is {y_type.dtype} of shape {show(y_type.shape)}; reduce it with sum)",
            c.node,
        )
    if not x_type.differentiable:
        raise b._error(
            f"grad({names[0]}, {names[1]}): '{names[1]}' is an {x_type.dtype} input: "
            "it has no gradient",
            c.node,
        )
    b.inputs.setdefault(x.name, None)
    prefix = Program(tuple(b.inputs), tuple(b.stmts), (y.name,), types=b.types)
    adjoints: dict[str, str] = {}

    def adjoint(name: str) -> str:  # d<y>_d<v>, fresh for each grad()
        if name not in adjoints:
            adjoints[name] = b.namer.fresh(f"d{y.name}_d{name}")
        return adjoints[name]

    vjp = share(reverse(prefix, (x.name,), b.namer, adjoint=adjoint), b.namer)
    (upstream,) = vjp.cotangents
    seed = Stmt(
        upstream,
        Const.of(1.0),
        origin=Origin("inner", names=(names[0], names[1], upstream)),
    )
    types = dict(b.types)
    types.update(vjp.types)
    inner = Program(
        prefix.inputs,
        prefix.stmts + (seed,) + vjp.stmts,
        vjp.grads,
        types=types,
    )
    flat = prepare(inner, b.namer)
    b.stmts[:] = flat.stmts
    b.types.update(flat.types)
    (gradient,) = flat.outputs
    if c.target is None:
        return Var(gradient)
    return b._define(Var(gradient), b.types[gradient], c.target)


def _where(b: _Builder, c: _Call) -> Atom:
    if b.type_of(c.args[0]).dtype != "bool":
        raise b._error("where() needs a comparison as its condition (a > 0)", c.node)
    return b._emit("where", c.args, c.target)


def _norm(b: _Builder, c: _Call) -> Atom:
    """norm(a, axis=..., keepdims=...): the Euclidean norm, its own primitive."""
    b._need_array(c.name, c.args[0], c.node)
    return b._emit("norm", c.args, c.target, c.params)


#: user function -> its lowering (every name in ``primitives.FUNCTIONS`` has one)
_LOWERINGS: dict[str, Callable[[_Builder, _Call], Atom]] = {
    "exp": _elementwise,
    "log": _elementwise,
    "sqrt": _elementwise,
    "sin": _elementwise,
    "cos": _elementwise,
    "tan": _elementwise,
    "tanh": _elementwise,
    "sigmoid": _elementwise,
    "relu": _elementwise,
    "abs": _elementwise,
    "softplus": _elementwise,
    "log_sigmoid": _elementwise,
    "log1p": _elementwise,
    "expm1": _elementwise,
    "logaddexp": _elementwise,
    "norm": _norm,
    "max": _extremum,
    "min": _extremum,
    "maximum": _maximum,
    "minimum": _minimum,
    "sum": _reduction,
    "mean": _reduction,
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "transpose": _transpose,
    "reshape": _reshape,
    "arange": _arange,
    "where": _where,
    "grad": _grad,
}


def _children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, node.comparators[0]]
    if isinstance(node, ast.Attribute):
        return [node.value]
    if isinstance(node, ast.Subscript):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(isinstance(i, ast.Slice) or is_int_literal(i) for i in items):
            return [node.value]
        return [node.value, *(i for i in items if not isinstance(i, ast.Slice))]
    assert isinstance(node, ast.Call)
    return list(node.args)


def _literal_value(node: ast.expr) -> object:
    """The value of a whitelisted literal option (checked by ``parse._literal_option``
    and ``parse._OPTION_CHECKS``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        assert isinstance(node.operand, ast.Constant)
        return -node.operand.value
    assert isinstance(node, ast.Tuple)
    return tuple(_literal_value(e) for e in node.elts)


def _negate(text: str) -> str:
    if text.startswith("-"):
        return text[1:]
    if " / " in text:
        return f"-({text})"
    return "-" + text


def _all_names(parsed: Parsed) -> list[str]:
    names: list[str] = []
    for st in parsed.statements:
        if st.target is not None:
            names.append(st.target)
        for node in ast.walk(st.value):
            if isinstance(node, ast.Name):
                names.append(node.id)
    for _, decl in parsed.decls:
        names.extend(d for d in decl.shape if isinstance(d, str))
    return names + list(parsed.declared)


def _check_dimensions(
    parsed: Parsed, dims: dict[str, tuple[str, int]], targets: dict[str, int]
) -> None:
    """A dimension name (``N`` in ``X: array[N, D]``) stands for a size: reading it
    gives ``X.shape[0]``, so it can be neither assigned nor declared as an input."""
    decls = dict(parsed.decls)
    for dim, (source, _) in dims.items():
        line = targets.get(dim)
        if line is None and dim in decls:
            line = decls[dim].line
        if line is not None:
            raise InputError(
                f"'{dim}' is a dimension of {source} (line {decls[source].line}); "
                "give this value another name",
                f"{parsed.where}:{line}",
            )


def linearize(
    parsed: Parsed,
    inputs: tuple[str, ...] | None = None,
    outputs: tuple[str, ...] | None = None,
) -> Program:
    """Build the flat forward program; ``inputs`` (from ``--inputs``) fixes input order,
    ``outputs`` (from ``--outputs``, else the program's last line ``u, v``) names the
    outputs (default: the value of the last statement)."""
    assignments = _Assignments(parsed, inputs)
    targets = assignments.line
    namer = Namer(_all_names(parsed) + list(inputs or ()))
    assignments.namer = namer
    builder = _Builder(parsed, namer, assignments)
    _check_dimensions(parsed, builder.dims, targets)
    output = ""
    for st in parsed.statements:
        if st.augmented and st.target not in builder.current:
            if st.target not in assignments.inputs:
                raise InputError(
                    f"'{st.target} {st.augmented} ...' updates '{st.target}', which "
                    f"has no value yet (assign it first: '{st.target} = ...')",
                    f"{parsed.where}:{st.line}",
                )
        name = st.target if st.target is not None else namer.fresh("f")
        output = builder.statement(st.value, name, st.line)
    used = tuple(builder.inputs)
    if inputs is not None:
        order = _check_listed(inputs, used, targets, builder.dims, "--inputs")
    elif parsed.declared:
        # declared inputs first, in declaration order; undeclared ones are scalars
        order = parsed.declared + tuple(n for n in used if n not in parsed.declared)
    else:
        order = used
    types = {name: builder.types.get(name, SCALAR) for name in order}
    types.update(builder.types)
    named = _outputs(parsed, outputs, targets)
    if named is not None:  # the newest version of each name
        named = tuple(builder.current.get(name, name) for name in named)
    return Program(order, tuple(builder.stmts), named or (output,), types=types)


def _outputs(
    parsed: Parsed, listed: tuple[str, ...] | None, targets: dict[str, int]
) -> tuple[str, ...] | None:
    """The outputs named by ``--outputs`` or the last line, each an assigned value."""
    if listed is not None:
        what = "--outputs"
        twice = repeated(listed)
        if twice is not None:
            raise OptionError(f"'{twice}' is listed twice", what)
    elif parsed.outputs is not None:
        listed, what = parsed.outputs, f"{parsed.where}:{parsed.outputs_line}"
    else:
        return None
    for name in listed:
        if name not in targets:
            assigned = ", ".join(targets) or "none"
            problem = f"output '{name}' is not assigned in the program"
            if len(assigned) <= 60:
                problem += f" (assigned: {assigned})"
            if what == "--outputs":
                raise OptionError(problem, what)
            raise InputError(problem, what)
    return listed


def _check_listed(
    listed: tuple[str, ...],
    used: tuple[str, ...],
    targets: dict[str, int],
    dims: dict[str, tuple[str, int]],
    what: str,
) -> tuple[str, ...]:
    twice = repeated(listed)
    if twice is not None:
        raise OptionError(f"'{twice}' is listed twice", what)
    for name in listed:
        problem = name_problem(name)
        if problem is not None:
            raise OptionError(problem, what)
        if name in dims:
            source, _ = dims[name]
            raise OptionError(
                f"'{name}' is a dimension of {source}, not an input", what
            )
    missing = [name for name in used if name not in listed]
    if missing:
        raise OptionError(
            f"input {', '.join(repr(m) for m in missing)} is used but not listed "
            f"(listed: {', '.join(listed)})",
            what,
        )
    return tuple(listed)
