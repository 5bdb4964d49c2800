"""Static types of values: a dtype (``float``, ``int``, ``bool``) and a shape whose
dimensions are integers or shape symbols (``N``, ``D``), checked at generation time.

A mismatch is an error naming the statement and both shapes.  Reverse mode uses the
shapes to write un-broadcasting out (``db1 = dt.sum(axis=0)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from codegen.errors import InputError
from codegen.ir import Const, Expr, Op, Program, Var

Dim = int | str
Shape = tuple[Dim, ...]


@dataclass(frozen=True, slots=True)
class Type:
    dtype: str  # "float", "int" or "bool"
    shape: Shape = ()

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def differentiable(self) -> bool:
        return self.dtype == "float"


SCALAR = Type("float")
INT = Type("int")


def show(shape: Shape) -> str:
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


class ShapeError(InputError):
    pass


def broadcast(shapes: list[Shape], what: str, where: str) -> Shape:
    """NumPy broadcasting over static shapes; dims must be equal or 1."""
    rank = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for k in range(rank):
        dim: Dim = 1
        for shape in shapes:
            offset = rank - len(shape)
            if k < offset:
                continue
            d = shape[k - offset]
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim = d
                continue
            listed = " and ".join(show(s) for s in shapes)
            raise ShapeError(f"{what}: shapes {listed} do not broadcast", where)
        out.append(dim)
    return tuple(out)


def unbroadcast_axes(
    result: Shape, arg: Shape
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Axes to sum to bring a gradient of shape ``result`` back to ``arg``:
    the leading axes ``arg`` lacks (summed away), then axes where ``arg`` has 1
    (summed with keepdims), numbered after the leading ones are gone."""
    lead = len(result) - len(arg)
    leading = tuple(range(lead))
    kept = tuple(k for k, d in enumerate(arg) if d == 1 and result[lead + k] != 1)
    return leading, kept


def normalize_axis(axis: int, rank: int, what: str, where: str) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what}: axis {axis} is out of range for rank {rank}", where)
    return axis % rank


def reduce_shape(shape: Shape, axis: tuple[int, ...] | None, keepdims: bool) -> Shape:
    if axis is None:
        return tuple(1 for _ in shape) if keepdims else ()
    if keepdims:
        return tuple(1 if k in axis else d for k, d in enumerate(shape))
    return tuple(d for k, d in enumerate(shape) if k not in axis)


ELEMENTWISE = frozenset(
    "add sub mul div pow neg exp log sqrt sin cos tan tanh sigmoid relu abs max min "
    "gt lt eq ge le ne where".split()
)
COMPARISONS = frozenset("gt lt eq ge le ne".split())
_FLOAT_ONLY = frozenset("div exp log sqrt sin cos tan tanh sigmoid mean".split())


def _dtype(prim: str, types: list[Type]) -> str:
    if prim in COMPARISONS:
        return "bool"
    if prim in _FLOAT_ONLY or any(t.dtype == "float" for t in types):
        return "float"
    return "int"


def _axes(axis: object, rank: int, what: str, where: str) -> tuple[int, ...] | None:
    if axis is None:
        return None
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = [normalize_axis(int(a), rank, what, where) for a in items]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{what}: axis {axis!r} names an axis twice", where)
    return tuple(sorted(axes))


def size(shape: Shape) -> tuple[int, tuple[str, ...]]:
    """A shape's element count as (product of ints, sorted symbols)."""
    count = 1
    symbols: list[str] = []
    for dim in shape:
        if isinstance(dim, int):
            count *= dim
        else:
            symbols.append(dim)
    return count, tuple(sorted(symbols))


# --- static indexing: a[1:3, 0] (slice) and a[i, j] with integer arrays (gather) ------

#: one item of a static index: an integer, or a slice as (start, stop, step)
IndexItem = int | tuple[int | None, int | None, int | None]


class IndexProblem(ValueError):
    """Why a static index does not fit a shape (the message names the culprit)."""


def index_text(items: tuple[IndexItem, ...]) -> str:
    """A static index as Python source (``1:3, 0``): the ``index`` param of ``slice``."""
    texts: list[str] = []
    for item in items:
        if isinstance(item, int):
            texts.append(str(item))
            continue
        lo, hi, step = item
        text = f"{'' if lo is None else lo}:{'' if hi is None else hi}"
        texts.append(text if step is None else f"{text}:{step}")
    return ", ".join(texts)


@functools.cache  # one call per slice typed; a program has few distinct index texts
def parse_index(text: str) -> tuple[IndexItem, ...]:
    """The items of an :func:`index_text` (its inverse; integers only, nothing is
    evaluated)."""
    items: list[IndexItem] = []
    for part in text.split(","):
        part = part.strip()
        if ":" not in part:
            items.append(int(part))
            continue
        bounds = [None if b.strip() == "" else int(b) for b in part.split(":")]
        if len(bounds) == 2:
            bounds.append(None)
        lo, hi, step = bounds
        items.append((lo, hi, step))
    return tuple(items)


def symbolic_offset(dim: str) -> tuple[str, int]:
    """A symbolic size as (symbol, offset): ``N`` -> (N, 0), ``N-2`` -> (N, -2)."""
    for k in range(len(dim) - 1, 0, -1):
        if dim[k] in "+-":
            tail = dim[k + 1 :]
            if tail.isdigit():
                return dim[:k], int(dim[k:])
            break
    return dim, 0


def symbolic_size(symbol: str, offset: int) -> str:
    """The one label of ``symbol + offset`` (``N``, ``N-2``, ``N+1``): equal sizes
    get equal labels, so ``x[1:][1:]`` and ``x[2:]`` broadcast together."""
    return symbol if offset == 0 else f"{symbol}{offset:+d}"


def _symbolic_length(dim: str, lo: int | None, hi: int | None) -> Dim:
    """Length of ``a[lo:hi]`` along a symbolic axis of size ``dim`` (``N`` or an
    offset of it, ``N-1``): an int, or the normalised ``N-2``-style label."""

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
        symbol, offset = symbolic_offset(dim)
        return symbolic_size(symbol, offset + const)
    raise IndexProblem(f"cannot tell the length of this slice of dimension {dim}")


def sliced(shape: Shape, items: tuple[IndexItem, ...]) -> Shape:
    """The shape of ``a[items]`` for ``a`` of ``shape``, or :class:`IndexProblem`."""
    if len(items) > len(shape):
        raise IndexProblem(f"too many indices ({len(items)}) for shape {show(shape)}")
    out: list[Dim] = []
    for axis, item in enumerate(items):
        dim = shape[axis]
        if isinstance(item, int):
            if isinstance(dim, int) and not -dim <= item < dim:
                raise IndexProblem(
                    f"index {item} is out of range for axis {axis} of size {dim}"
                )
            continue
        lo, hi, step = item
        if step == 0:
            raise IndexProblem("slice step cannot be zero")
        if isinstance(dim, int):
            out.append(len(range(dim)[slice(lo, hi, step)]))
        elif step in (None, 1):
            out.append(_symbolic_length(dim, lo, hi))
        else:
            raise IndexProblem(f"cannot slice symbolic dimension {dim} with a step")
    return tuple(out) + shape[len(items) :]


def check_gather(base: Type, index: list[Type]) -> None:
    """``a[i, j]`` with integer arrays: at most one index per axis, integers only."""
    if len(index) > base.rank:
        raise IndexProblem(
            f"too many indices ({len(index)}) for shape {show(base.shape)}"
        )
    for t in index:
        if t.dtype != "int":
            raise IndexProblem(
                "an index must be an integer array or integer (got "
                f"{t.dtype} with shape {show(t.shape)})"
            )


# --- the shape rules: one small function per primitive --------------------------------


class Site(NamedTuple):
    """What a shape rule may see besides its argument types and params: the argument
    atoms (``reshape`` reads its target dimensions from them) and whom to blame.
    (A named tuple: one is made per statement, and it is the cheapest to make.)"""

    args: tuple[Expr, ...]
    what: str  # the statement, for messages: "in 'q = x @ w'"
    where: str  # its place: "<expr>:1:5"

    def error(self, message: str) -> ShapeError:
        return ShapeError(f"{self.what}: {message}", self.where)


ShapeRule = Callable[[list[Type], dict, Site], Type]


def _elementwise(prim: str) -> ShapeRule:
    """NumPy broadcasting; the dtype from the primitive and its arguments."""

    def rule(types: list[Type], params: dict, at: Site) -> Type:
        shape = broadcast([t.shape for t in types], at.what, at.where)
        return Type(_dtype(prim, types), shape)

    return rule


def _where(types: list[Type], params: dict, at: Site) -> Type:
    shape = broadcast([t.shape for t in types], at.what, at.where)
    return Type(_dtype("add", types[1:]), shape)


def _matmul(types: list[Type], params: dict, at: Site) -> Type:
    """``@`` in all four kinds: matrix or vector on each side."""
    a, b = types
    if a.rank == 0 or b.rank == 0 or a.rank > 2 or b.rank > 2:
        raise at.error(
            f"'@' needs vectors or matrices, got shapes {show(a.shape)} and "
            f"{show(b.shape)}"
        )
    if a.shape[-1] != b.shape[0]:
        raise at.error(
            f"'@' inner dimensions differ: shapes {show(a.shape)} and {show(b.shape)}"
        )
    return Type(_dtype("mul", types), a.shape[:-1] + b.shape[1:])


def _outer(types: list[Type], params: dict, at: Site) -> Type:
    """``np.outer(a, b)`` of two vectors: shape (len(a), len(b))."""
    a, b = types
    if a.rank != 1 or b.rank != 1:
        raise at.error(
            f"outer() needs two vectors, got shapes {show(a.shape)} and {show(b.shape)}"
        )
    return Type(_dtype("mul", types), (a.shape[0], b.shape[0]))


def _reduction(prim: str) -> ShapeRule:
    """sum / mean / max / min over ``axis`` (all axes by default), ``keepdims``."""

    def rule(types: list[Type], params: dict, at: Site) -> Type:
        (a,) = types
        axes = _axes(params.get("axis"), a.rank, at.what, at.where)
        keep = bool(params.get("keepdims", False))
        return Type(_dtype(prim, types), reduce_shape(a.shape, axes, keep))

    return rule


def _shift(types: list[Type], params: dict, at: Site) -> Type:
    """``a.max(axis, keepdims=True)``: the reduced axes kept as size 1."""
    (a,) = types
    axes = _axes(params.get("axis"), a.rank, at.what, at.where)
    return Type(a.dtype, reduce_shape(a.shape, axes, True))


def _squeeze(types: list[Type], params: dict, at: Site) -> Type:
    (a,) = types
    axes = _axes(params.get("axis"), a.rank, at.what, at.where)
    return Type(a.dtype, reduce_shape(a.shape, axes, False))


def _expand_dims(types: list[Type], params: dict, at: Site) -> Type:
    """``np.expand_dims(a, axis)``: size-1 axes inserted (numbered in the result)."""
    (a,) = types
    axis = params["axis"]
    count = len(axis) if isinstance(axis, tuple) else 1
    axes = _axes(axis, a.rank + count, at.what, at.where) or ()
    rest = iter(a.shape)
    shape = tuple(1 if k in axes else next(rest) for k in range(a.rank + count))
    return Type(a.dtype, shape)


def _transpose(types: list[Type], params: dict, at: Site) -> Type:
    (a,) = types
    return Type(a.dtype, tuple(reversed(a.shape)))


def _reshape(types: list[Type], params: dict, at: Site) -> Type:
    """``reshape(a, N, 1)``: the target dimensions are the atoms after ``a``
    (positive integers or dimension names); the element count must not change."""
    if len(at.args) != len(types):
        raise at.error("reshape's shape rule needs its argument atoms (args=...)")
    shape: list[Dim] = []
    for atom in at.args[1:]:
        if isinstance(atom, Const) and isinstance(atom.value, int) and atom.value >= 1:
            shape.append(atom.value)
        elif isinstance(atom, Var):
            shape.append(atom.name)
        else:
            raise at.error(
                "reshape() dimensions are dimension names (N) or positive integers"
            )
    return _reshaped(types[0], tuple(shape), at)


def _reshaped(old: Type, shape: Shape, at: Site) -> Type:
    if size(old.shape) != size(shape):
        raise at.error(f"cannot reshape {show(old.shape)} into {show(shape)}")
    return Type(old.dtype, shape)


def _reshape_like(types: list[Type], params: dict, at: Site) -> Type:
    """``g.reshape(like.shape)``: the adjoint of reshape."""
    g, like = types
    return _reshaped(g, like.shape, at)


def _float_like(like: int) -> ShapeRule:
    """A fresh float array shaped like argument ``like`` (``np.zeros_like(a,
    dtype=float)``, ``np.full_like(a, g, dtype=float)``, a scatter-add into zeros)."""

    def rule(types: list[Type], params: dict, at: Site) -> Type:
        return Type("float", types[like].shape)

    return rule


def _expand(types: list[Type], params: dict, at: Site) -> Type:
    """A reduced gradient broadcast back over the axes of its second argument."""
    g, like = types
    axes = _axes(params.get("axis"), like.rank, at.what, at.where)
    keep = bool(params.get("keepdims", False))
    reduced = reduce_shape(like.shape, axes, keep)
    if broadcast([g.shape, reduced], at.what, at.where) != reduced:
        raise at.error(
            f"a gradient of shape {show(g.shape)} does not expand to {show(like.shape)}"
        )
    return Type("float", like.shape)


def _broadcast_to(types: list[Type], params: dict, at: Site) -> Type:
    """``np.broadcast_to(g, like.shape).astype(float)``: g must broadcast to it."""
    g, like = types
    if broadcast([g.shape, like.shape], at.what, at.where) != like.shape:
        raise at.error(
            f"shape {show(g.shape)} does not broadcast to {show(like.shape)}"
        )
    return Type("float", like.shape)


def _broadcast_like(types: list[Type], params: dict, at: Site) -> Type:
    """``g + np.zeros_like(like)``: the upstream gradient shaped like the output."""
    shape = broadcast([t.shape for t in types], at.what, at.where)
    return Type(_dtype("add", types), shape)


def _same(types: list[Type], params: dict, at: Site) -> Type:
    """The argument's type (``a.copy()``)."""
    return types[0]


def _as_float(types: list[Type], params: dict, at: Site) -> Type:
    """``float(x)`` of a number."""
    if types[0].rank:
        raise at.error(f"float() needs a number, got shape {show(types[0].shape)}")
    return SCALAR


def _integer(types: list[Type], params: dict, at: Site) -> Type:
    """A Python int: ``a.shape[k]`` (dim), the element count of a reduction (count)."""
    return INT


def _arange(types: list[Type], params: dict, at: Site) -> Type:
    return Type("int", (params["length"],))


def _gather(types: list[Type], params: dict, at: Site) -> Type:
    """``a[i, j]`` with integer arrays: the broadcast index shape, then a's
    remaining axes."""
    base, *index = types
    try:
        check_gather(base, index)
    except IndexProblem as problem:
        raise at.error(str(problem)) from None
    lead = broadcast([t.shape for t in index], at.what, at.where)
    return Type(base.dtype, lead + base.shape[len(index) :])


def _slice(types: list[Type], params: dict, at: Site) -> Type:
    """``a[1:3, 0]``: the ``index`` param is the index's source text."""
    (a,) = types
    try:
        return Type(a.dtype, sliced(a.shape, parse_index(params["index"])))
    except IndexProblem as problem:
        raise at.error(str(problem)) from None


#: primitive -> its shape rule (a test checks every primitive in ARITY has one)
SHAPE_RULES: dict[str, ShapeRule] = {
    "add": _elementwise("add"),
    "sub": _elementwise("sub"),
    "mul": _elementwise("mul"),
    "div": _elementwise("div"),
    "pow": _elementwise("pow"),
    "neg": _elementwise("neg"),
    "exp": _elementwise("exp"),
    "log": _elementwise("log"),
    "sqrt": _elementwise("sqrt"),
    "sin": _elementwise("sin"),
    "cos": _elementwise("cos"),
    "tan": _elementwise("tan"),
    "tanh": _elementwise("tanh"),
    "sigmoid": _elementwise("sigmoid"),
    "relu": _elementwise("relu"),
    "abs": _elementwise("abs"),
    "max": _elementwise("max"),
    "min": _elementwise("min"),
    "gt": _elementwise("gt"),
    "lt": _elementwise("lt"),
    "eq": _elementwise("eq"),
    "ge": _elementwise("ge"),
    "le": _elementwise("le"),
    "ne": _elementwise("ne"),
    "sign": _elementwise("sign"),
    "where": _where,
    "matmul": _matmul,
    "matvec": _matmul,
    "vecmat": _matmul,
    "dot": _matmul,
    "outer": _outer,
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "amax": _reduction("amax"),
    "amin": _reduction("amin"),
    "shift": _shift,
    "squeeze": _squeeze,
    "expand_dims": _expand_dims,
    "transpose": _transpose,
    "reshape": _reshape,
    "reshape_like": _reshape_like,
    "expand": _expand,
    "count": _integer,
    "dim": _integer,
    "arange": _arange,
    "gather": _gather,
    "scatter_add": _float_like(0),
    "slice": _slice,
    "unslice": _float_like(0),
    "zeros_like": _float_like(0),
    "copy": _same,
    "as_float": _as_float,
    "broadcast_like": _broadcast_like,
    "broadcast_to": _broadcast_to,
}


def infer(
    prim: str,
    types: list[Type],
    params: dict,
    what: str,
    where: str,
    args: tuple[Expr, ...] = (),
) -> Type:
    """The result type of a primitive, or a :class:`ShapeError` naming both shapes.

    ``args`` are the argument atoms: only ``reshape`` needs them (its target dims)."""
    rule = SHAPE_RULES.get(prim)
    if rule is None:
        raise ShapeError(f"{what}: no shape rule for '{prim}'", where)
    return rule(types, params, Site(args, what, where))


def const_type(const: Const) -> Type:
    """``int`` for an int literal, ``float`` for the rest (floats, ratios, ``pi``)."""
    return INT if isinstance(const.value, int) else SCALAR


def type_expr(
    expr: Expr, types: Mapping[str, Type], what: str = "", where: str = ""
) -> Type:
    """The type of an expression tree (iterative), names typed by ``types`` (a name
    missing there is a float scalar)."""
    done: dict[int, Type] = {}
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, Var):
            done[id(node)] = types.get(node.name, SCALAR)
        elif isinstance(node, Const):
            done[id(node)] = const_type(node)
        elif not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
        else:
            arg_types = [done[id(a)] for a in node.args]
            params = dict(node.params)
            done[id(node)] = infer(node.prim, arg_types, params, what, where, node.args)
    return done[id(expr)]


def type_program(program: Program, where: str = "<program>") -> dict[str, Type]:
    """Every name of a program (inputs, then targets in order) with the type the shape
    rules derive for it from the input types in ``program.types`` (an input missing
    there is a float scalar).  Works on flat programs and on expression trees; an
    accumulating statement (``dx = dx + e``) is typed as the sum it stands for."""
    types: dict[str, Type] = {
        name: program.types.get(name, SCALAR) for name in program.inputs
    }
    for index, stmt in enumerate(program.stmts):
        expr = stmt.expr
        if stmt.accumulate:
            expr = Op("add", (Var(stmt.target), expr))
        types[stmt.target] = type_expr(
            expr,
            types,
            f"in the statement assigning '{stmt.target}'",
            f"{where}:statement {index + 1}",
        )
    return types
