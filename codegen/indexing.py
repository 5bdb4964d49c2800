"""Static indexing: ``a[1:3, None, 0]`` (the ``slice`` primitive's index, as data and as
Python text) and ``a[i, j]`` with integer arrays (``gather``): the shapes they give."""

from __future__ import annotations

import ast
import functools

from .dims import dim_text, from_text, may_be_nonnegative, minus, plus, show
from .ir import Dim, Shape, Type

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
