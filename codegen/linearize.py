"""Parsed source -> flat forward program: one primitive per statement over atoms.

This is the one place that builds the graph: user names are kept, unnamed subexpressions
get fresh temporaries in trace order (identical ones are shared), and constant
subexpressions are folded by SymPy (only where the result is a plain finite number, so
``2 * pi`` or ``exp(2)`` stay as written).  All traversals are iterative.
"""

from __future__ import annotations

import ast
import math
import sys
from fractions import Fraction

import sympy

from codegen.errors import InputError, OptionError
from codegen.ir import Atom, Const, Op, Program, Stmt, Var
from codegen.naming import Namer, name_problem, repeated
from codegen.parse import BINOPS, COMPARE, Decl, Parsed, is_int_literal
from codegen.primitives import SYMPY, const_to_sympy
from codegen.shapes import SCALAR, Dim, Type, broadcast, infer, show

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
        result = SYMPY[prim](*(const_to_sympy(a) for a in args))
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


#: functions whose value at constants SymPy keeps symbolic (exp(1000), log(0)):
#: checked numerically instead, so no module computes inf, nan or an error on every call
_FUNCTIONS_OF_CONSTANTS = frozenset("exp log sqrt sin cos tan tanh sigmoid".split())


def _real_float(prim: str, args: tuple[Atom, ...]) -> bool:
    """Whether a function of constants is a finite real float."""
    if any(a.text == "pi" for a in args):  # type: ignore[union-attr]
        return True  # exp(pi) and the like: fine, and left as written
    value = sympy.N(SYMPY[prim](*(const_to_sympy(a) for a in args)))  # type: ignore[arg-type]
    if not (value.is_real and value.is_finite):
        return False
    return value == 0 or _log10(float(abs(value))) <= sys.float_info.max_10_exp


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


class _Builder:
    def __init__(self, parsed: Parsed, namer: Namer, targets: dict[str, int]) -> None:
        self.parsed = parsed
        self.namer = namer
        self.targets = targets  # name -> line of its assignment
        self.defined: set[str] = set()
        self.inputs: dict[str, None] = {}
        self.stmts: list[Stmt] = []
        self.shared: dict[tuple, str] = {}
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

    def _error(self, message: str, node: ast.AST) -> InputError:
        return InputError(message, self._where(node))

    def _where(self, node: ast.AST | None) -> str:
        if node is None or not hasattr(node, "lineno"):
            return f"{self.parsed.where}:{self.line}"
        return f"{self.parsed.where}:{node.lineno}:{node.col_offset + 1}"

    def _what(self) -> str:
        text = self.parsed.lines[self.line - 1].strip() if self.line else ""
        return f"in '{text}'" if len(text) <= 100 else f"in line {self.line}"

    def type_of(self, atom: Atom) -> Type:
        if isinstance(atom, Const):
            value = atom.value
            return Type("int") if isinstance(value, int) else Type("float")
        return self.types.get(atom.name, SCALAR)

    def _name(self, node: ast.Name, line: int) -> Atom:
        name = node.id
        if name == "pi":
            return Const(math.pi, "pi")
        if name in self.defined:
            return Var(name)
        if name in self.targets:
            assigned = self.targets[name]
            if assigned >= line:
                raise self._error(
                    f"'{name}' is used before it is assigned (line {assigned})", node
                )
        if name in self.dims and name not in self.decls:
            source, axis = self.dims[name]
            self.inputs.setdefault(source, None)
            self.types[name] = Type("int")
            self.stmts.append(Stmt(name, Op("dim", (Var(source),), (("axis", axis),))))
            self.defined.add(name)
            return Var(name)
        self.inputs.setdefault(name, None)
        return Var(name)

    def _emit(
        self,
        prim: str,
        args: tuple[Atom, ...],
        target: str | None,
        params: tuple[tuple[str, object], ...] = (),
    ) -> Atom:
        types = [self.type_of(a) for a in args]
        if prim == "matmul":
            prim = {(2, 2): "matmul", (2, 1): "matvec", (1, 2): "vecmat"}.get(
                (types[0].rank, types[1].rank), "dot"
            )
        result = infer(prim, types, dict(params), self._what(), self._where(self.node))
        ints = all(t.dtype == "int" for t in types)
        if prim == "pow" and ints and (result.rank or not isinstance(args[0], Const)):
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
        if not params and all(isinstance(a, Const) for a in args):
            folded = fold(prim, args)  # type: ignore[arg-type]
            if folded is not None:
                if target is None:
                    return (
                        folded  # its user checks its size (10**400 / 10**399 is fine)
                    )
                self._check_const(folded)
                self.types[target] = self.type_of(folded)
                self.stmts.append(Stmt(target, folded))
                return Var(target)
            if prim == "pow":  # too large to fold: 10**4999 stays a power
                base, power = (a.value for a in args)  # type: ignore[union-attr]
                if abs(base) > 1 and power > 0:
                    self._check_size(float(power) * _log10(base))
            elif prim in _FUNCTIONS_OF_CONSTANTS and not _real_float(prim, args):
                text = ", ".join(a.text for a in args)  # type: ignore[union-attr]
                raise self._error(
                    f"{self._what()}: {prim}({text}) is not a finite real float",
                    self.node,
                )
        for arg in args:
            if isinstance(arg, Const):
                self._check_const(arg)
        op = Op(prim, args, params)
        if target is None:
            key = (prim, args, params)
            name = self.shared.get(key)
            if name is None:
                name = self.namer.temp()
                self.shared[key] = name
                self.types[name] = result
                self.stmts.append(Stmt(name, op))
            return Var(name)
        self.types[target] = result
        self.stmts.append(Stmt(target, op))
        return Var(target)

    # --- calls, subscripts, attributes ----------------------------------------------

    def _call(self, node: ast.Call, args: tuple[Atom, ...], target: str | None) -> Atom:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        options = {kw.arg: _literal_value(kw.value) for kw in node.keywords}
        params = tuple(sorted(options.items()))
        if name in ("sum", "mean", "transpose", "softmax", "log_softmax", "logsumexp"):
            self._need_array(name, args[0], node)
        if name in ("max", "min") and len(args) == 1:
            prim = "amax" if name == "max" else "amin"
            if self.type_of(args[0]).rank == 0:
                raise self._error(
                    f"{name}() of one argument reduces an array, but its argument is "
                    "a scalar (to compare values, give two or more)",
                    node,
                )
            return self._emit(prim, args, target, params)
        if name in ("max", "min") and options:
            raise self._error(f"{name}() of several values takes no axis", node)
        if name in ("maximum", "minimum"):
            zero = [isinstance(a, Const) and a.value == 0 for a in args]
            if name == "maximum" and any(zero) and not all(zero):
                # max(0, x): the ReLU, with the lecture's relu'(0) = 0
                (x,) = [a for a, z in zip(args, zero, strict=True) if not z]
                return self._emit("relu", (x,), target)
            return self._emit("max" if name == "maximum" else "min", args, target)
        if name in ("softmax", "log_softmax", "logsumexp"):
            return self._stable(name, args[0], options, target)
        if name == "arange":
            (n,) = args
            if isinstance(n, Const) and isinstance(n.value, int) and n.value >= 1:
                length: object = n.value
            elif isinstance(n, Var) and n.name in self.dims:
                length = n.name
            else:
                raise self._error(
                    "arange() takes a dimension name (N) or a positive integer", node
                )
            return self._emit("arange", args, target, (("length", length),))
        if name == "where":
            if self.type_of(args[0]).dtype != "bool":
                raise self._error(
                    "where() needs a comparison as its condition (a > 0)", node
                )
            return self._emit("where", args, target)
        if name == "transpose":
            return self._emit("transpose", args, target)
        if name == "reshape":
            return self._reshape(node, args, target)
        if options and name not in ("sum", "mean", "logsumexp"):
            raise self._error(f"{name}() takes no keyword arguments", node)
        return self._emit(name, args, target, params)

    def _need_array(self, name: str, arg: Atom, node: ast.AST) -> None:
        if self.type_of(arg).rank == 0:
            what = f"'{name}'" if name.startswith(".") else f"{name}()"
            raise self._error(
                f"{what} works on arrays, but its argument is a scalar "
                "(declare array inputs, e.g. 'x: array[N]')",
                node,
            )

    def _stable(self, name: str, a: Atom, options: dict, target: str | None) -> Atom:
        """logsumexp / softmax / log_softmax, max-shifted and written out:

            m = a.max(axis, keepdims=True)   # the shift: no gradient (it cancels)
            e = exp(a - m);  z = e.sum(axis, keepdims=True)
            softmax = e / z;  log_softmax = (a - m) - log(z);  logsumexp = log(z) + m

        Their gradients then come from the saved ``e`` and ``z`` through the rules of
        exp, sum, div and log.
        """
        axis = options.get("axis", None if name == "logsumexp" else -1)
        keep = (("axis", axis), ("keepdims", True))
        shift = self._emit("shift", (a,), None, (("axis", axis),))
        centered = self._emit("sub", (a, shift), None)
        e = self._emit("exp", (centered,), None)
        z = self._emit("sum", (e,), None, keep)
        if name == "softmax":
            return self._emit("div", (e, z), target)
        log_z = self._emit("log", (z,), None)
        if name == "log_softmax":
            return self._emit("sub", (centered, log_z), target)
        if options.get("keepdims"):
            return self._emit("add", (log_z, shift), target)
        total = self._emit("add", (log_z, shift), None)
        return self._emit("squeeze", (total,), target, (("axis", axis),))

    def _reshape(
        self, node: ast.Call, args: tuple[Atom, ...], target: str | None
    ) -> Atom:
        base, *dims = args
        shape: list[Dim] = []
        for dim in dims:
            if isinstance(dim, Const) and isinstance(dim.value, int) and dim.value >= 1:
                shape.append(dim.value)
            elif isinstance(dim, Var) and dim.name in self.dims:
                shape.append(dim.name)
            else:
                raise self._error(
                    "reshape() dimensions are dimension names (N) or positive integers",
                    node,
                )
        old = self.type_of(base)
        if _size(old.shape) != _size(tuple(shape)):
            raise InputError(
                f"{self._what()}: cannot reshape {show(old.shape)} into {show(tuple(shape))}",
                self._where(node),
            )
        op = Op("reshape", (base, *dims))
        name = target if target is not None else self.namer.temp()
        self.types[name] = Type(old.dtype, tuple(shape))
        self.stmts.append(Stmt(name, op))
        return Var(name)

    def _slice(
        self, node: ast.Subscript, base: Atom, items: list[ast.expr], target: str | None
    ) -> Atom:
        kind = self.type_of(base)
        if len(items) > kind.rank:
            raise self._error(
                f"too many indices ({len(items)}) for shape {show(kind.shape)}", node
            )
        shape: list[Dim] = []
        texts: list[str] = []
        for axis, item in enumerate(items):
            dim = kind.shape[axis]
            if not isinstance(item, ast.Slice):
                k = int(_literal_value(item))  # type: ignore[call-overload]
                if isinstance(dim, int) and not -dim <= k < dim:
                    raise self._error(
                        f"index {k} is out of range for axis {axis} of size {dim}", node
                    )
                texts.append(str(k))
                continue
            lo, hi, step = (
                None if part is None else int(_literal_value(part))  # type: ignore[call-overload]
                for part in (item.lower, item.upper, item.step)
            )
            if step == 0:
                raise self._error("slice step cannot be zero", node)
            texts.append(
                (f"{'' if lo is None else lo}:{'' if hi is None else hi}")
                + ("" if step is None else f":{step}")
            )
            if isinstance(dim, int):
                shape.append(len(range(dim)[slice(lo, hi, step)]))
            elif step in (None, 1):
                shape.append(_symbolic_length(dim, lo, hi, self._error, node))
            else:
                raise self._error(
                    f"cannot slice symbolic dimension {dim} with a step", node
                )
        shape.extend(kind.shape[len(items) :])
        index = ", ".join(texts)
        op = Op("slice", (base,), (("index", index),))
        name = target if target is not None else self.namer.temp()
        self.types[name] = Type(kind.dtype, tuple(shape))
        self.stmts.append(Stmt(name, op))
        return Var(name)

    def _subscript(
        self, node: ast.Subscript, base: Atom, index: list[Atom], target: str | None
    ) -> Atom:
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        kind = self.type_of(base)
        static = [isinstance(i, ast.Slice) or is_int_literal(i) for i in items]
        if all(static):
            return self._slice(node, base, items, target)
        if any(isinstance(item, ast.Slice) for item in items):
            raise self._error(
                "mixing slices with index arrays is not supported; "
                "index with arrays only, or with slices and integers only",
                node,
            )
        if len(index) > kind.rank:
            raise self._error(
                f"too many indices ({len(index)}) for shape {show(kind.shape)}", node
            )
        shapes = []
        for atom in index:
            t = self.type_of(atom)
            if t.dtype != "int":
                raise self._error(
                    "an index must be an integer array or integer (got "
                    f"{t.dtype} with shape {show(t.shape)})",
                    node,
                )
            shapes.append(t.shape)
        lead = broadcast(shapes, self._what(), self._where(node))
        result = Type(kind.dtype, lead + kind.shape[len(index) :])
        op = Op("gather", (base, *index))
        name = target if target is not None else self.namer.temp()
        self.types[name] = result
        self.stmts.append(Stmt(name, op))
        return Var(name)

    # --- statements -----------------------------------------------------------------

    def statement(self, root: ast.expr, target: str, line: int) -> None:
        """Emit the statements computing ``root`` into ``target`` (iterative)."""
        self.line = line
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
            self.types[target] = self.type_of(result)
            self.stmts.append(Stmt(target, result))
        self.defined.add(target)


def _size(shape: tuple[Dim, ...]) -> tuple[int, tuple[str, ...]]:
    """A shape's element count as (product of ints, sorted symbols)."""
    count = 1
    symbols: list[str] = []
    for dim in shape:
        if isinstance(dim, int):
            count *= dim
        else:
            symbols.append(dim)
    return count, tuple(sorted(symbols))


def _symbolic_length(dim: str, lo: int | None, hi: int | None, error, node) -> Dim:
    """Length of ``a[lo:hi]`` along a symbolic axis N: an int, N, or ``N-1``-style."""

    def bound(value: int | None, default: tuple[int, int]) -> tuple[int, int]:
        if value is None:
            return default
        return (1, value) if value < 0 else (0, value)

    end = bound(hi, (1, 0))
    start = bound(lo, (0, 0))
    coeff, const = end[0] - start[0], end[1] - start[1]
    if coeff == 0:
        return max(const, 0)
    if coeff == 1:
        return dim if const == 0 else f"{dim}{const:+d}"
    raise error(f"cannot tell the length of this slice of dimension {dim}", node)


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


def linearize(parsed: Parsed, inputs: tuple[str, ...] | None = None) -> Program:
    """Build the flat forward program; ``inputs`` (from ``--inputs``) fixes input order."""
    targets: dict[str, int] = {}
    for st in parsed.statements:
        if st.target is None:
            continue
        if st.target in targets:
            first = targets[st.target]
            lines = f"on line {first}" if first == st.line else f"on lines {first} and"
            lines = lines if first == st.line else f"{lines} {st.line}"
            raise InputError(
                f"'{st.target}' is assigned twice {lines}; assign each name once",
                f"{parsed.where}:{st.line}",
            )
        targets[st.target] = st.line
    namer = Namer(_all_names(parsed) + list(inputs or ()))
    builder = _Builder(parsed, namer, targets)
    _check_dimensions(parsed, builder.dims, targets)
    output = ""
    for st in parsed.statements:
        target = st.target if st.target is not None else namer.fresh("f")
        builder.statement(st.value, target, st.line)
        output = target
    used = tuple(builder.inputs)
    for name in parsed.declared:
        if name in targets:
            raise InputError(
                f"'{name}' is declared as an input but assigned on line {targets[name]}",
                parsed.where,
            )
    if inputs is not None:
        order = _check_listed(inputs, used, targets, builder.dims, "--inputs")
    elif parsed.declared:
        # declared inputs first, in declaration order; undeclared ones are scalars
        order = parsed.declared + tuple(n for n in used if n not in parsed.declared)
    else:
        order = used
    types = {name: builder.types.get(name, SCALAR) for name in order}
    types.update(builder.types)
    return Program(order, tuple(builder.stmts), (output,), types=types)


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
        if name in targets:
            raise OptionError(
                f"'{name}' is assigned in the program, so it is not an input", what
            )
    missing = [name for name in used if name not in listed]
    if missing:
        raise OptionError(
            f"input {', '.join(repr(m) for m in missing)} is used but not listed "
            f"(listed: {', '.join(listed)})",
            what,
        )
    return tuple(listed)
