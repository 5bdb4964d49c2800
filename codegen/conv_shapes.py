"""The shape rules of convolution and pooling (NCHW images, filters (F, C, KH, KW)).

The output sizes are computed by :func:`conv_size` and :func:`pool_size` only, so that
another representation of sizes changes those two alone."""

from __future__ import annotations

from . import dims
from .ir import Dim, Type
from .shapes import IndexProblem, Site, result_dtype, show


def conv_size(dim: Dim, kernel: int, stride: int, padding: int) -> Dim:
    """``(dim + 2*padding - kernel) // stride + 1``: an int, or a size expression
    (``H - 2``, ``H``, ``(H - 1)//2 + 1``)."""
    return dims.plus(dims.floordiv(dims.plus(dim, 2 * padding - kernel), stride), 1)


def pool_size(dim: Dim, k: int) -> Dim:
    """``dim // k``: for an int that ``k`` divides (else :class:`IndexProblem`); for a
    named size ``H//k``, whose divisibility the module's pooling checks when called."""
    if isinstance(dim, int) and dim % k:
        raise IndexProblem(f"pooling by {k} needs sizes divisible by {k}, got {dim}")
    return dims.floordiv(dim, k)


def _image(t: Type, what: str, at: Site) -> None:
    if t.rank != 4:
        raise at.error(f"{what} needs NCHW images of rank 4, got shape {show(t.shape)}")


def conv2d(types: list[Type], params: dict, at: Site) -> Type:
    """``conv2d(x, w, stride, padding)``: x (N, C, H, W), w (F, C, KH, KW) with literal
    KH, KW; the result (N, F, OH, OW) (see :func:`conv_size`)."""
    x, w = types
    _image(x, "conv2d()", at)
    if w.rank != 4:
        raise at.error(
            f"conv2d() needs filters of rank 4 (F, C, KH, KW), got shape {show(w.shape)}"
        )
    if x.shape[1] != w.shape[1]:
        raise at.error(
            f"conv2d() channels differ: images {show(x.shape)} have {x.shape[1]}, "
            f"filters {show(w.shape)} have {w.shape[1]}"
        )
    stride, padding = params["stride"], params["padding"]
    out: list[Dim] = []
    for dim, k in zip(x.shape[2:], w.shape[2:], strict=True):
        if not isinstance(k, int):
            raise at.error(
                f"conv2d() filter size {k} must be an integer literal (w: array[F, C, 3, 3])"
            )
        if isinstance(dim, int) and dim + 2 * padding < k:
            raise at.error(
                f"conv2d() filter {show(w.shape)} is larger than the padded image "
                f"{show(x.shape)} (padding {padding})"
            )
        try:
            out.append(conv_size(dim, k, stride, padding))
        except IndexProblem as problem:
            raise at.error(f"conv2d(): {problem}") from None
    return Type(result_dtype("float", types), (x.shape[0], w.shape[0], *out))


def conv2d_grad_input(types: list[Type], params: dict, at: Site) -> Type:
    """The transposed convolution ``(g, w, x)``: shaped like x (read for its shape)."""
    return Type("float", types[2].shape)


def conv2d_grad_filter(types: list[Type], params: dict, at: Site) -> Type:
    """The filter gradient ``(x, g)``: (F, C, KH, KW), F from g, C from x."""
    x, g = types
    return Type("float", (g.shape[1], x.shape[1], *params["kernel"]))


def pool2d(types: list[Type], params: dict, at: Site) -> Type:
    """``max_pool2d(x, k)`` and ``avg_pool2d(x, k)``: k by k windows, stride k, sizes
    divisible by k (see :func:`pool_size`)."""
    (x,) = types
    _image(x, "pooling", at)
    k = params["k"]
    try:
        out = [pool_size(dim, k) for dim in x.shape[2:]]
    except IndexProblem as problem:
        raise at.error(f"{problem} (image shape {show(x.shape)})") from None
    return Type(result_dtype("float", types), (*x.shape[:2], *out))


def pool2d_grad(types: list[Type], params: dict, at: Site) -> Type:
    """A pooling's gradient ``(g, x, ...)``: shaped like x."""
    return Type("float", types[1].shape)


def max_pool2d_tangent(types: list[Type], params: dict, at: Site) -> Type:
    """Max pooling's tangent ``(d, x, out)``: shaped like out."""
    return Type("float", types[2].shape)
