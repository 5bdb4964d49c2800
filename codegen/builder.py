"""The builder of the flat forward program: one primitive per statement over atoms.

User names are kept, unnamed subexpressions get fresh temporaries in trace order
(identical ones are shared), constants are folded and checked (:mod:`codegen.constants`).
All traversals are iterative.

Every statement is made by one constructor (``Builder.emit``, then ``define``): its
type comes from the shape rules of :mod:`codegen.shapes`, its constants are checked and a
repeated value is shared, slices and gathers included.  User functions are lowered by
the table the builder is given (:data:`codegen.lowerings.LOWERINGS`);
``Assignments`` alone decides what assigning a name does.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

from .assignments import Assignments
from .constants import (
    const_problem,
    fold,
    literal_text,
    negated_text,
    operand_problem,
    unfolded_problem,
)
from .dims import Dim, SizeProblem, dim_name, dim_names, dim_text, from_ast, minus
from .errors import InputError
from .hints import closest, declare_hint, example_shape
from .ir import Atom, Const, Op, Origin, Stmt, Var
from .naming import Namer
from .parse import Decl, Parsed
from .primitives import PRIMITIVES
from .shapes import (
    SCALAR,
    IndexItem,
    IndexProblem,
    ShapeError,
    Type,
    check_gather,
    index_text,
    show,
    sliced,
)
from .typecheck import const_type, infer
from .whitelist import BINOPS, COMPARE, is_int_literal, is_new_axis


class Call(NamedTuple):
    """A call of a user function, its arguments linearized: what a lowering sees."""

    node: ast.Call
    name: str
    args: tuple[Atom, ...]
    options: dict  # keyword -> literal value (axis=1, keepdims=True)
    target: str | None

    @property
    def params(self) -> tuple[tuple[str, object], ...]:
        return tuple(sorted(self.options.items()))


#: a user function's lowering: the builder and the call -> the value
Lowering = Callable[["Builder", Call], Atom]

#: how temporaries are named after a statement that a later pass expands (``grad``):
#: ``_t1``, ``_t2``, ... (no user name starts with ``_``), so that the pass can name
#: them in order after the statements it writes
PROVISIONAL = "_t"


class Builder:
    """Builds the flat program statement by statement (see the module's docstring)."""

    def __init__(
        self,
        parsed: Parsed,
        namer: Namer,
        assignments: Assignments,
        lowerings: Mapping[str, Lowering],
    ) -> None:
        self.parsed = parsed
        self.namer = namer
        self.assignments = assignments
        self.lowerings = lowerings
        #: provisional temporaries made so far, once a statement is expanded later
        self.provisional: int | None = None
        # name -> the variable holding its value now (assigned names, dimensions read)
        self.current: dict[str, str] = {}
        self.inputs: dict[str, None] = {}
        #: input -> where it is first read as a value (for the warnings about
        #: undeclared inputs)
        self.read_at: dict[str, ast.Name] = {}
        self.stmts: list[Stmt] = []
        self.shared: dict[Op, str] = {}
        #: name -> the largest index value it holds: an arange(N) holds N - 1, a
        #: dimension N holds N (see ``_check_range``)
        self.largest: dict[str, Dim] = {}
        self._line_bytes: dict[int, bytes] = {}
        self.decls: dict[str, Decl] = dict(parsed.decls)
        self.types: dict[str, Type] = {
            name: Type(d.dtype, d.shape) for name, d in parsed.decls
        }
        # shape symbol -> (input, axis) that defines it
        self.dims: dict[str, tuple[str, int]] = {}
        for name, decl in parsed.decls:
            for axis, dim in enumerate(decl.shape):
                symbol = dim_name(dim)
                if symbol is not None:
                    self.dims.setdefault(symbol, (name, axis))
        self.line = 0
        #: the loop iteration of the statements being built (None outside loops)
        self.origin: Origin | None = None
        self.node: ast.AST | None = None
        self._what_line = -1
        self._what_text = ""

    # --- helpers -------------------------------------------------------------------

    def _literal(self, node: ast.Constant) -> Const:
        value = node.value
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error("literal is too large to be a finite float", node)
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

    def _check(self, problem: str | None) -> None:
        """Raise ``problem`` (a message about the statement being built), if any."""
        if problem is not None:
            raise self.error(f"{self._what()}: {problem}", self.node)

    def error(self, message: str, node: ast.AST | None) -> InputError:
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
            raise self.error(
                f"'{name}' is used before it is assigned (line {assigned}){hint}",
                node,
            )
        if name in self.dims and name not in self.decls:
            return self.dim_var(name)
        if name not in self.inputs:
            self.inputs[name] = None
            self.read_at[name] = node
        return Var(name)

    def dim_var(self, name: str) -> Var:
        """The variable holding the size of dimension ``name`` (``H = h.shape[1]``),
        its statement made where it is first read."""
        if name not in self.current:
            source, axis = self.dims[name]
            self.inputs.setdefault(source, None)
            self.emit("dim", (Var(source),), name, (("axis", axis),))
            self.largest[name] = name
            self.current[name] = name
        return Var(self.current[name])

    # --- the one statement constructor ----------------------------------------------

    def emit(
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
            ranks = (types[0].rank, types[1].rank)
            if max(ranks) > 2 and min(ranks) > 0:
                return self.batched_matmul(args, ranks, target)
            prim = {(2, 2): "matmul", (2, 1): "matvec", (1, 2): "vecmat"}.get(
                ranks, "dot"
            )
        try:
            result = infer(
                prim, types, dict(params), self._what(), self._where(self.node), args
            )
        except ShapeError as error:
            hint = self._undeclared_hint(prim, args, types)
            if not hint:
                raise
            raise ShapeError(f"{error.message}; {hint}", error.where) from None
        self._check(operand_problem(prim, args, types, result))
        if (
            not params
            and PRIMITIVES[prim].meaning is not None
            and all(isinstance(a, Const) for a in args)
        ):
            folded = fold(prim, args)  # type: ignore[arg-type]
            if folded is not None:
                if target is None:
                    # its user checks its size (10**400 / 10**399 is fine)
                    return folded
                return self.define(folded, const_type(folded), target)
            self._check(unfolded_problem(prim, args))  # type: ignore[arg-type]
        return self.define(Op(prim, args, params), result, target)

    def define(self, expr: Op | Atom, kind: Type, target: str | None) -> Var:
        """THE place a statement is made: its constants checked, a value without a
        target shared (an identical one computed before is reused), its type recorded.
        """
        if isinstance(expr, Const):
            self._check(const_problem(expr))
        elif isinstance(expr, Op):
            for arg in expr.args:
                if isinstance(arg, Const):
                    self._check(const_problem(arg))
        if target is None:
            assert isinstance(expr, Op)
            name = self.shared.get(expr)
            if name is None:
                name = self._temp()
                self.shared[expr] = name
                self.types[name] = kind
                self.stmts.append(Stmt(name, expr, origin=self.origin))
            return Var(name)
        self.types[target] = kind
        self.stmts.append(Stmt(target, expr, origin=self.origin))
        return Var(target)

    def _temp(self) -> str:
        if self.provisional is None:
            return self.namer.temp()
        self.provisional += 1
        return f"{PROVISIONAL}{self.provisional}"

    def expanded_later(self, expr: Op, kind: Type, target: str | None) -> Var:
        """A statement that a later pass replaces by several (``grad``): never shared,
        and the temporaries after it are provisional (see :data:`PROVISIONAL`)."""
        if self.provisional is None:
            self.provisional = 0
        name = self._temp() if target is None else target
        self.types[name] = kind
        self.stmts.append(Stmt(name, expr, origin=self.origin))
        return Var(name)

    # --- calls, subscripts, attributes ----------------------------------------------

    def _call(self, node: ast.Call, args: tuple[Atom, ...], target: str | None) -> Atom:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        options = {kw.arg: literal_value(kw.value) for kw in node.keywords}
        return self.lowerings[name](self, Call(node, name, args, options, target))

    def attribute(self, node: ast.Attribute, operand: Atom, target: str | None) -> Atom:
        """``a.T`` (the transpose: all axes reversed) or ``a.mT`` (the last two axes
        swapped)."""
        self.need_array(f".{node.attr}", operand, node)
        if node.attr == "T":
            return self.emit("transpose", (operand,), target)
        if self.type_of(operand).rank < 2:
            raise self.error(
                f"'.mT' swaps the last two axes, but its argument has shape "
                f"{show(self.type_of(operand).shape)}",
                node,
            )
        return self.emit("swapaxes", (operand,), target, (("axes", (-1, -2)),))

    def batched_matmul(
        self, args: tuple[Atom, ...], ranks: tuple[int, int], target: str | None
    ) -> Atom:
        """``@`` with batch axes (NumPy's matmul): a vector side becomes a matrix of
        one row (left) or column (right) for ``bmatmul``, squeezed away after."""
        a, b = args
        if ranks[0] == 1:
            a = self.emit("expand_dims", (a,), None, (("axis", 0),))
        if ranks[1] == 1:
            b = self.emit("expand_dims", (b,), None, (("axis", -1),))
        if 1 not in ranks:
            return self.emit("bmatmul", (a, b), target)
        product = self.emit("bmatmul", (a, b), None)
        axis = -2 if ranks[0] == 1 else -1
        return self.emit("squeeze", (product,), target, (("axis", axis),))

    def need_array(self, name: str, arg: Atom, node: ast.AST) -> None:
        if self.type_of(arg).rank == 0:
            what = f"'{name}'" if name.startswith(".") else f"{name}()"
            hint = self._undeclared_hint(name, (arg,), [SCALAR])
            if hint:
                raise self.error(f"{what} works on arrays, but {hint}", node)
            raise self.error(
                f"{what} works on arrays, but its argument is a scalar "
                "(declare array inputs, e.g. 'x: array[N]')",
                node,
            )

    def _undeclared_hint(
        self, prim: str, args: tuple[Atom, ...], types: list[Type]
    ) -> str:
        """For an error about ``prim`` of ``args``: the first argument that is an
        undeclared input (a scalar) named, with a declaration that would fit, or ""."""
        shapes = [t.shape for t in types]
        for position, (arg, kind) in enumerate(zip(args, types, strict=True)):
            if (
                isinstance(arg, Var)
                and kind.rank == 0
                and arg.name in self.read_at
                and arg.name not in self.decls
            ):
                known = [*self.decls, *self.assignments.line]
                taken = [*self.dims, *known, *self.read_at]
                shape = example_shape(prim, position, shapes, taken)
                near = closest(arg.name, (k for k in known if k != arg.name))
                return declare_hint(arg.name, shape, near)
        return ""

    def _slice(
        self, node: ast.Subscript, base: Atom, items: list[ast.expr], target: str | None
    ) -> Atom:
        index: list[IndexItem] = []
        names: dict[str, None] = {}
        for item in items:
            if is_new_axis(item):
                index.append(None)
                continue
            if not isinstance(item, ast.Slice):
                index.append(int(literal_value(item)))  # type: ignore[call-overload]
                continue
            lo, hi = (self._bound(part, names) for part in (item.lower, item.upper))
            step = None if item.step is None else int(literal_value(item.step))  # type: ignore[call-overload]
            index.append((lo, hi, step))
        try:
            sliced(self.type_of(base).shape, tuple(index))
        except IndexProblem as problem:
            raise self.error(str(problem), node) from None
        sizes = tuple(self.dim_var(name) for name in sorted(names))
        params = (("index", index_text(tuple(index))),)
        return self.emit("slice", (base, *sizes), target, params)

    def _bound(self, part: ast.expr | None, names: dict[str, None]) -> Dim | None:
        """A slice bound: an integer, or a size of dimension names (``2*H``), whose
        names go into ``names``."""
        if part is None:
            return None
        if is_int_literal(part):
            return int(literal_value(part))  # type: ignore[call-overload]
        try:
            bound = from_ast(part)
        except SizeProblem as problem:
            raise self.error(str(problem), problem.node) from None
        for name in dim_names(bound):
            if name not in self.dims or name in self.decls:
                raise self.error(
                    f"slice bound {ast.unparse(part)}: '{name}' is not a dimension "
                    "name (a bound is an integer or a size such as 2*H, where H is "
                    "the size of an input's axis)",
                    part,
                )
            names[name] = None
        return bound

    def _subscript(
        self, node: ast.Subscript, base: Atom, index: list[Atom], target: str | None
    ) -> Atom:
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(map(_static, items)):
            return self._slice(node, base, items, target)
        if any(map(is_new_axis, items)):
            raise self.error(
                "None (a new axis) goes with slices and integers only, not with "
                "index arrays; index first, then add the axis: b = a[i]; b[:, None]",
                node,
            )
        if any(isinstance(item, ast.Slice) for item in items):
            raise self.error(
                "mixing slices with index arrays is not supported; "
                "index with arrays only, or with slices and integers only",
                node,
            )
        try:
            check_gather(self.type_of(base), [self.type_of(a) for a in index])
        except IndexProblem as problem:
            raise self.error(str(problem), node) from None
        self._check_range(node, self.type_of(base).shape, index, items)
        return self.emit("gather", (base, *index), target)

    def _check_range(
        self,
        node: ast.AST,
        shape: tuple[Dim, ...],
        index: list[Atom],
        items: list[ast.expr],
    ) -> None:
        """Refuse an index that is out of range on every input: ``X[N]`` for ``X``
        of ``N`` rows, ``X[arange(N)]`` for ``N-1`` rows, ``y[:, 3]`` for 3 columns.
        What cannot be proved (an int 5 on an axis of ``N``) is left to run time."""
        for axis, (atom, size, item) in enumerate(
            zip(index, shape, items, strict=False)
        ):
            if isinstance(atom, Const) and type(atom.value) is int:
                largest: Dim | None = atom.value
                smallest = atom.value
            elif isinstance(atom, Var):
                largest, smallest = self.largest.get(atom.name), 0
            else:
                continue
            if largest is None:
                continue
            over = minus(largest, size)
            beyond = isinstance(over, int) and over >= 0
            below = isinstance(size, int) and smallest < -size
            if beyond or below:
                last = dim_text(minus(size, 1))
                raise self.error(
                    f"{self._what()}: index {ast.unparse(item)} is out of range for "
                    f"axis {axis} of size {dim_text(size)} (its indices run from 0 to "
                    f"{last})",
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
                stack.extend((child, False) for child in reversed(children(node)))
            elif isinstance(node, ast.BinOp):
                args = (values.pop(id(node.left)), values.pop(id(node.right)))
                prim = BINOPS[type(node.op)]
                values[id(node)] = self.emit(prim, args, out)
            elif isinstance(node, ast.UnaryOp):
                operand = values.pop(id(node.operand))
                if isinstance(node.op, ast.UAdd):
                    values[id(node)] = operand
                elif isinstance(operand, Const) and operand.text != "pi":
                    values[id(node)] = Const(-operand.value, negated_text(operand.text))
                else:
                    values[id(node)] = self.emit("neg", (operand,), out)
            elif isinstance(node, ast.Compare):
                args = (values.pop(id(node.left)), values.pop(id(node.comparators[0])))
                prim = COMPARE[type(node.ops[0])]
                values[id(node)] = self.emit(prim, args, out)
            elif isinstance(node, ast.Attribute):
                operand = values.pop(id(node.value))
                values[id(node)] = self.attribute(node, operand, out)
            elif isinstance(node, ast.Subscript):
                base = values.pop(id(node.value))
                index = [values.pop(id(c)) for c in children(node)[1:]]
                values[id(node)] = self._subscript(node, base, index, out)
            else:
                assert isinstance(node, ast.Call)
                args = tuple(values.pop(id(a)) for a in children(node))
                values[id(node)] = self._call(node, args, out)
        result = values[id(root)]
        if not (isinstance(result, Var) and result.name == target):
            # a plain name or constant (or a folded constant): a copy statement
            self.define(result, self.type_of(result), target)
        self.current[name] = target
        return target


def children(node: ast.expr) -> list[ast.expr]:
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
        if all(map(_static, items)):
            return [node.value]
        return [
            node.value,
            *(i for i in items if not (isinstance(i, ast.Slice) or is_new_axis(i))),
        ]
    assert isinstance(node, ast.Call)
    if node.args and isinstance(node.args[0], ast.List):  # concatenate([a, b])
        return [*node.args[0].elts, *node.args[1:]]
    if isinstance(node.func, ast.Name) and node.func.id == "reshape":
        return list(node.args[:1])  # the sizes are read by the lowering
    return [a for a in node.args if not literal_argument(a)]


def literal_argument(node: ast.expr) -> bool:
    """An argument its lowering reads as written (an einsum spec, transpose's axes),
    not a value."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Tuple)


def _static(item: ast.expr) -> bool:
    """An item of a static index (the ``slice`` primitive): a slice, an integer
    literal or None (a new axis)."""
    return isinstance(item, ast.Slice) or is_int_literal(item) or is_new_axis(item)


def literal_value(node: ast.expr) -> object:
    """The value of a whitelisted literal option (checked by ``whitelist._literal_option``
    and ``whitelist._OPTION_CHECKS``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        assert isinstance(node.operand, ast.Constant)
        return -node.operand.value
    assert isinstance(node, ast.Tuple)
    return tuple(literal_value(e) for e in node.elts)
