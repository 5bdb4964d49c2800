"""Static types of values: a dtype (``float``, ``int``, ``bool``) and a shape whose
dimensions are integers or shape symbols (``N``, ``D``), checked at generation time.

A mismatch is an error naming the statement and both shapes.  Reverse mode uses the
shapes to write un-broadcasting out (``db1 = dt.sum(axis=0)``).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from typing import NamedTuple

from .dims import dim_text, from_text, may_be_nonnegative, minus, plus, times
from .einsum import SpecProblem, parse_spec
from .errors import InputError
from .ir import INT, SCALAR, Const, Dim, Expr, Shape, Type, Var


def show(shape: Shape) -> str:
    if len(shape) == 1:
        return f"({dim_text(shape[0])},)"
    return "(" + ", ".join(dim_text(d) for d in shape) + ")"


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


def result_dtype(policy: str, types: list[Type]) -> str:
    """A result's dtype by its primitive's policy (:attr:`Primitive.dtype`): "bool"
    (comparisons), "float" (float-only math: ``exp``, ``mean``, ``/``), or "promote":
    float if any argument is, else int."""
    if policy != "promote":
        return policy
    return "float" if any(t.dtype == "float" for t in types) else "int"


def _axes(axis: object, rank: int, what: str, where: str) -> tuple[int, ...] | None:
    if axis is None:
        return None
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = [normalize_axis(int(a), rank, what, where) for a in items]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{what}: axis {axis!r} names an axis twice", where)
    return tuple(sorted(axes))


def size(shape: Shape) -> Dim:
    """A shape's element count: the canonical product of its sizes."""
    count: Dim = 1
    for dim in shape:
        count = times(count, dim)
    return count


# --- static indexing: a[1:3, 0] (slice) and a[i, j] with integer arrays (gather) ------

#: one item of a static index: an integer, None (a new axis of size 1), or a slice as
#: (start, stop, step), whose bounds may be sizes (``H``, ``2*H``)
Bound = Dim | None
IndexItem = int | None | tuple[Bound, Bound, int | None]


class IndexProblem(ValueError):
    """Why a static index does not fit a shape (the message names the culprit)."""


def index_text(items: tuple[IndexItem, ...]) -> str:
    """A static index as Python source (``1:3, 0``, ``:, H : 2 * H``): the ``index``
    param of ``slice``; a bound that is a size names dimension variables of the module.
    Written as black writes it (a slice with an expression for a bound has spaces
    around its colons), so the module's text is the same through either formatter."""
    texts: list[str] = []
    for item in items:
        if item is None or isinstance(item, int):
            texts.append(str(item))
            continue
        parts = ["" if part is None else _bound_text(part) for part in item]
        if item[2] is None:
            parts.pop()
        if any(not isinstance(part, int | str | None) for part in item[:2]):
            text = " : ".join(parts).replace(" :  : ", " :: ").strip()
        else:
            text = ":".join(parts)
        texts.append(text)
    return ", ".join(texts)


def _bound_text(bound: Dim) -> str:
    """A bound as black spaces it: ``2 * H``, ``H // 2``."""
    if isinstance(bound, int | str):
        return str(bound)
    return ast.unparse(ast.parse(dim_text(bound), mode="eval"))


@functools.cache  # one call per slice typed; a program has few distinct index texts
def parse_index(text: str) -> tuple[IndexItem, ...]:
    """The items of an :func:`index_text` (its inverse; read with :mod:`ast`, nothing
    is evaluated)."""
    items: list[IndexItem] = []
    for part in text.split(","):
        part = part.strip()
        if part == "None":
            items.append(None)
            continue
        if ":" not in part:
            items.append(int(part))
            continue
        bounds = [None if b.strip() == "" else from_text(b) for b in part.split(":")]
        if len(bounds) == 2:
            bounds.append(None)
        lo, hi, step = bounds
        assert step is None or isinstance(step, int)
        items.append((lo, hi, step))
    return tuple(items)


def _slice_length(dim: Dim, lo: Bound, hi: Bound) -> Dim:
    """Length of ``a[lo:hi]`` along an axis of size ``dim`` where a size or a bound is
    an expression: a negative integer bound counts from the end; a bound that is an
    expression is an offset from the start (``H`` in ``a[:, H:2*H]``)."""

    def place(value: Bound, default: Dim) -> Dim:
        if value is None:
            return default
        if isinstance(value, int) and value < 0:
            return plus(dim, value)
        return value

    start, end = place(lo, 0), place(hi, dim)
    length = minus(end, start)
    if isinstance(length, int):
        return max(length, 0)
    if not may_be_nonnegative(length):
        raise IndexProblem(
            f"cannot tell the length of this slice of dimension {dim_text(dim)}"
        )
    if not isinstance(end, int) and not may_be_nonnegative(minus(dim, end)):
        raise IndexProblem(
            f"the slice end {dim_text(end)} can be beyond the size {dim_text(dim)}"
        )
    return length


def sliced(shape: Shape, items: tuple[IndexItem, ...]) -> Shape:
    """The shape of ``a[items]`` for ``a`` of ``shape``, or :class:`IndexProblem`.
    A None item is a new axis of size 1 and takes no axis of ``a``."""
    taken = sum(item is not None for item in items)
    if taken > len(shape):
        raise IndexProblem(f"too many indices ({taken}) for shape {show(shape)}")
    out: list[Dim] = []
    axis = -1
    for item in items:
        if item is None:
            out.append(1)
            continue
        axis += 1
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
        if (
            isinstance(dim, int)
            and isinstance(lo, int | None)
            and isinstance(hi, int | None)
        ):
            out.append(len(range(dim)[slice(lo, hi, step)]))
        elif step in (None, 1):
            out.append(_slice_length(dim, lo, hi))
        else:
            raise IndexProblem(
                f"cannot slice symbolic dimension {dim_text(dim)} with a step"
            )
    return tuple(out) + shape[taken:]


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
    atoms (``reshape`` reads its target dimensions from them), the primitive's dtype
    policy (see :func:`result_dtype`) and whom to blame.  (A named tuple: one is made
    per statement, and it is the cheapest to make.)"""

    args: tuple[Expr, ...]
    what: str  # the statement, for messages: "in 'q = x @ w'"
    where: str  # its place: "<expr>:1:5"
    dtype: str = "promote"

    def error(self, message: str) -> ShapeError:
        return ShapeError(f"{self.what}: {message}", self.where)


ShapeRule = Callable[[list[Type], dict, Site], Type]


def elementwise(types: list[Type], params: dict, at: Site) -> Type:
    """NumPy broadcasting; the dtype from the primitive and its arguments."""
    shape = broadcast([t.shape for t in types], at.what, at.where)
    return Type(result_dtype(at.dtype, types), shape)


def where(types: list[Type], params: dict, at: Site) -> Type:
    """``where(c, a, b)``: broadcast; the dtype of ``a`` and ``b`` together."""
    shape = broadcast([t.shape for t in types], at.what, at.where)
    return Type(result_dtype("promote", types[1:]), shape)


def matmul(types: list[Type], params: dict, at: Site) -> Type:
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
    return Type(result_dtype("promote", types), a.shape[:-1] + b.shape[1:])


def outer(types: list[Type], params: dict, at: Site) -> Type:
    """``np.outer(a, b)`` of two vectors: shape (len(a), len(b))."""
    a, b = types
    if a.rank != 1 or b.rank != 1:
        raise at.error(
            f"outer() needs two vectors, got shapes {show(a.shape)} and {show(b.shape)}"
        )
    return Type(result_dtype("promote", types), (a.shape[0], b.shape[0]))


def reduction(types: list[Type], params: dict, at: Site) -> Type:
    """sum / mean / max / min / norm over ``axis`` (all axes by default), ``keepdims``."""
    (a,) = types
    axes = _axes(params.get("axis"), a.rank, at.what, at.where)
    keep = bool(params.get("keepdims", False))
    return Type(result_dtype(at.dtype, types), reduce_shape(a.shape, axes, keep))


def shift(types: list[Type], params: dict, at: Site) -> Type:
    """``a.max(axis, keepdims=True)``: the reduced axes kept as size 1."""
    (a,) = types
    axes = _axes(params.get("axis"), a.rank, at.what, at.where)
    return Type(a.dtype, reduce_shape(a.shape, axes, True))


def squeeze(types: list[Type], params: dict, at: Site) -> Type:
    (a,) = types
    axes = _axes(params.get("axis"), a.rank, at.what, at.where)
    return Type(a.dtype, reduce_shape(a.shape, axes, False))


def expand_dims(types: list[Type], params: dict, at: Site) -> Type:
    """``np.expand_dims(a, axis)``: size-1 axes inserted (numbered in the result)."""
    (a,) = types
    axis = params["axis"]
    count = len(axis) if isinstance(axis, tuple) else 1
    axes = _axes(axis, a.rank + count, at.what, at.where) or ()
    rest = iter(a.shape)
    shape = tuple(1 if k in axes else next(rest) for k in range(a.rank + count))
    return Type(a.dtype, shape)


def transpose(types: list[Type], params: dict, at: Site) -> Type:
    (a,) = types
    return Type(a.dtype, tuple(reversed(a.shape)))


def reshape(types: list[Type], params: dict, at: Site) -> Type:
    """``reshape(a, N, 1)``: the target dimensions are the atoms after ``a``
    (positive integers or dimension names); the element count must not change."""
    if len(at.args) != len(types):
        raise at.error("reshape's shape rule needs its argument atoms (args=...)")
    if "shape" in params:
        return reshaped(types[0], parse_shape(params["shape"]), at)
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
    return reshaped(types[0], tuple(shape), at)


def shape_text(shape: Shape) -> str:
    """A shape as the arguments of ``.reshape`` (``B*T, D``): the ``shape`` param."""
    return ", ".join(dim_text(d) for d in shape)


@functools.cache
def parse_shape(text: str) -> Shape:
    """The shape a :func:`shape_text` states."""
    return tuple(from_text(part) for part in text.split(","))


def reshaped(old: Type, shape: Shape, at: Site) -> Type:
    if size(old.shape) != size(shape):
        raise at.error(f"cannot reshape {show(old.shape)} into {show(shape)}")
    return Type(old.dtype, shape)


def reshape_like(types: list[Type], params: dict, at: Site) -> Type:
    """``g.reshape(like.shape)``: the adjoint of reshape."""
    g, like = types
    return reshaped(g, like.shape, at)


def float_like(types: list[Type], params: dict, at: Site) -> Type:
    """A fresh float array shaped like the first argument (``np.zeros_like(a,
    dtype=float)``, a scatter-add into zeros)."""
    return Type("float", types[0].shape)


def expand(types: list[Type], params: dict, at: Site) -> Type:
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


def broadcast_to(types: list[Type], params: dict, at: Site) -> Type:
    """``np.broadcast_to(g, like.shape).astype(float)``: g must broadcast to it."""
    g, like = types
    if broadcast([g.shape, like.shape], at.what, at.where) != like.shape:
        raise at.error(
            f"shape {show(g.shape)} does not broadcast to {show(like.shape)}"
        )
    return Type("float", like.shape)


def broadcast_like(types: list[Type], params: dict, at: Site) -> Type:
    """``g + np.zeros_like(like)``: the upstream gradient shaped like the output."""
    shape = broadcast([t.shape for t in types], at.what, at.where)
    return Type(result_dtype("promote", types), shape)


def same(types: list[Type], params: dict, at: Site) -> Type:
    """The argument's type (``a.copy()``)."""
    return types[0]


def as_float(types: list[Type], params: dict, at: Site) -> Type:
    """``float(x)`` of a number."""
    if types[0].rank:
        raise at.error(f"float() needs a number, got shape {show(types[0].shape)}")
    return SCALAR


def integer(types: list[Type], params: dict, at: Site) -> Type:
    """A Python int: ``a.shape[k]`` (dim), the element count of a reduction (count)."""
    return INT


def arange(types: list[Type], params: dict, at: Site) -> Type:
    return Type("int", (params["length"],))


def gather(types: list[Type], params: dict, at: Site) -> Type:
    """``a[i, j]`` with integer arrays: the broadcast index shape, then a's
    remaining axes."""
    base, *index = types
    try:
        check_gather(base, index)
    except IndexProblem as problem:
        raise at.error(str(problem)) from None
    lead = broadcast([t.shape for t in index], at.what, at.where)
    return Type(base.dtype, lead + base.shape[len(index) :])


def static_slice(types: list[Type], params: dict, at: Site) -> Type:
    """``a[1:3, 0]``, ``a[:, H:2*H]``: the ``index`` param is the index's source text
    (the arguments after ``a`` are the dimension variables it names)."""
    a = types[0]
    try:
        return Type(a.dtype, sliced(a.shape, parse_index(params["index"])))
    except IndexProblem as problem:
        raise at.error(str(problem)) from None


# --- new axes, variance, joining: concatenate, stack and their parts ---------------


def joined_size(sizes: tuple[Dim, ...]) -> Dim:
    """The size of a concatenation of parts of these sizes: their sum (``N + 3``,
    ``D + H``), canonical like every size."""
    total: Dim = 0
    for dim in sizes:
        total = plus(total, dim)
    return total


def _joined_types(types: list[Type], what: str, at: Site) -> None:
    if not types or any(t.rank == 0 for t in types):
        raise at.error(f"{what}() joins arrays, got shapes " + _listed(types))


def _listed(types: list[Type]) -> str:
    return ", ".join(show(t.shape) for t in types)


def concatenate(types: list[Type], params: dict, at: Site) -> Type:
    """``np.concatenate([a, b], axis=k)``: equal ranks, equal sizes except along k,
    where the sizes add up."""
    _joined_types(types, "concatenate", at)
    rank = types[0].rank
    axis = normalize_axis(int(params.get("axis", 0)), rank, at.what, at.where)
    rest = [t.shape[:axis] + t.shape[axis + 1 :] for t in types]
    if any(t.rank != rank for t in types) or any(r != rest[0] for r in rest):
        raise at.error(
            f"concatenate() along axis {axis} needs equal sizes on the other axes, "
            f"got shapes {_listed(types)}"
        )
    size = joined_size(tuple(t.shape[axis] for t in types))
    shape = types[0].shape[:axis] + (size,) + types[0].shape[axis + 1 :]
    return Type(result_dtype("promote", types), shape)


def stack(types: list[Type], params: dict, at: Site) -> Type:
    """``np.stack([a, b], axis=k)``: equal shapes; a new axis k of their number."""
    _joined_types(types, "stack", at)
    shape = types[0].shape
    axis = normalize_axis(int(params.get("axis", 0)), len(shape) + 1, at.what, at.where)
    if any(t.shape != shape for t in types):
        raise at.error(f"stack() needs equal shapes, got shapes {_listed(types)}")
    return Type(
        result_dtype("promote", types), shape[:axis] + (len(types),) + shape[axis:]
    )


def part(types: list[Type], params: dict, at: Site) -> Type:
    """``part(g, a, b, ..., which=k)``: the gradient of argument k of a join, shaped
    like it."""
    return Type("float", types[1 + int(params.get("which", 0))].shape)


# --- batched linear algebra and einsum ------------------------------------------------


def bmatmul(types: list[Type], params: dict, at: Site) -> Type:
    """``@`` with batch axes: NumPy's ``matmul`` of two stacks of matrices, the batch
    axes (all but the last two) broadcast."""
    a, b = types
    if a.rank < 2 or b.rank < 2:
        raise at.error(
            f"batched '@' needs matrices on both sides, got shapes {show(a.shape)} "
            f"and {show(b.shape)}"
        )
    if a.shape[-1] != b.shape[-2]:
        raise at.error(
            f"'@' inner dimensions differ: shapes {show(a.shape)} and {show(b.shape)} "
            f"({a.shape[-1]} and {b.shape[-2]})"
        )
    batch = broadcast([a.shape[:-2], b.shape[:-2]], at.what, at.where)
    core = (a.shape[-2], b.shape[-1])
    return Type(result_dtype("promote", types), batch + core)


def swapaxes(types: list[Type], params: dict, at: Site) -> Type:
    """``np.swapaxes(a, i, j)`` (the ``axes`` param: ``(i, j)``, negative counting
    from the end)."""
    (a,) = types
    i, j = (normalize_axis(k, a.rank, at.what, at.where) for k in params["axes"])
    shape = list(a.shape)
    shape[i], shape[j] = shape[j], shape[i]
    return Type(a.dtype, tuple(shape))


def permute(types: list[Type], params: dict, at: Site) -> Type:
    """``np.transpose(a, axes)``: axis k of the result is axis ``axes[k]`` of ``a``."""
    (a,) = types
    axes = params["axes"]
    normal = [normalize_axis(k, a.rank, at.what, at.where) for k in axes]
    if len(axes) != a.rank or sorted(normal) != list(range(a.rank)):
        raise at.error(
            f"transpose() axes {tuple(axes)} are not a permutation of the "
            f"{a.rank} axes of shape {show(a.shape)}"
        )
    return Type(a.dtype, tuple(a.shape[k] for k in normal))


def einsum(types: list[Type], params: dict, at: Site) -> Type:
    """``np.einsum(spec, *operands)``: each operand's rank is its subscripts' length,
    a letter has one size wherever it appears (no broadcasting of size 1)."""
    try:
        spec = parse_spec(params["spec"])
    except SpecProblem as problem:
        raise at.error(str(problem)) from None
    if len(spec.inputs) != len(types):
        raise at.error(
            f"einsum spec {spec.text()!r} has {len(spec.inputs)} operands, "
            f"given {len(types)}"
        )
    sizes: dict[str, Dim] = {}
    for index, (sub, t) in enumerate(zip(spec.inputs, types, strict=True)):
        if len(sub) != t.rank:
            raise at.error(
                f"einsum operand {index + 1} has shape {show(t.shape)}, but its "
                f"subscripts '{sub}' name {len(sub)} axes"
            )
        for char, dim in zip(sub, t.shape, strict=True):
            known = sizes.setdefault(char, dim)
            if known != dim:
                raise at.error(
                    f"einsum index '{char}' has size {known} and {dim} "
                    f"(operand {index + 1}, shape {show(t.shape)})"
                )
    return Type(result_dtype("promote", types), tuple(sizes[c] for c in spec.output))
