"""Static types of values: a dtype (``float``, ``int``, ``bool``) and a shape whose
dimensions are integers or shape symbols (``N``, ``D``), checked at generation time.

A mismatch is an error naming the statement and both shapes.  Reverse mode uses the
shapes to write un-broadcasting out (``db1 = dt.sum(axis=0)``).
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.errors import InputError

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


def infer(prim: str, types: list[Type], params: dict, what: str, where: str) -> Type:
    """The result type of a primitive, or a :class:`ShapeError` naming both shapes."""
    if prim in ELEMENTWISE:
        if prim == "where":
            shape = broadcast([t.shape for t in types], what, where)
            return Type(_dtype("add", types[1:]), shape)
        shape = broadcast([t.shape for t in types], what, where)
        return Type(_dtype(prim, types), shape)
    if prim in ("matmul", "matvec", "vecmat", "dot"):
        a, b = types
        if a.rank == 0 or b.rank == 0 or a.rank > 2 or b.rank > 2:
            raise ShapeError(
                f"{what}: '@' needs vectors or matrices, got shapes "
                f"{show(a.shape)} and {show(b.shape)}",
                where,
            )
        inner_a = a.shape[-1]
        inner_b = b.shape[0]
        if inner_a != inner_b:
            raise ShapeError(
                f"{what}: '@' inner dimensions differ: shapes {show(a.shape)} and "
                f"{show(b.shape)}",
                where,
            )
        shape = a.shape[:-1] + b.shape[1:]
        return Type(_dtype("mul", types), shape)
    if prim in ("sum", "mean", "amax", "amin"):
        (a,) = types
        axes = _axes(params.get("axis"), a.rank, what, where)
        keep = bool(params.get("keepdims", False))
        return Type(_dtype(prim, types), reduce_shape(a.shape, axes, keep))
    if prim == "shift":
        (a,) = types
        axes = _axes(params.get("axis"), a.rank, what, where)
        return Type(a.dtype, reduce_shape(a.shape, axes, True))
    if prim == "squeeze":
        (a,) = types
        axes = _axes(params.get("axis"), a.rank, what, where)
        return Type(a.dtype, reduce_shape(a.shape, axes, False))
    if prim == "transpose":
        (a,) = types
        return Type(a.dtype, tuple(reversed(a.shape)))
    if prim == "arange":
        return Type("int", (params["length"],))
    if prim == "dim":
        return Type("int")
    raise ShapeError(f"{what}: no shape rule for '{prim}'", where)
