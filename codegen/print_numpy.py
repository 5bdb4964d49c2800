"""The numpy backend's printing table: arrays and NumPy floats."""

from __future__ import annotations

from .ir import Const, Op
from .print_core import (
    ADD,
    ATOM,
    HELPERS,
    MATMUL,
    MUL,
    OPERATORS,
    UNARY,
    Helper,
    Rule,
    Statement,
    StatementOrExpression,
    TablePrinter,
    Text,
    wrap,
)
from .print_shared import (
    as_float,
    axis_text,
    dim_rule,
    function,
    gather,
    joined,
    method,
    part,
    reduce_args,
    reshape,
    reshape_like,
    sliced,
    transpose,
)


def _np_sigmoid(p: TablePrinter, op: Op) -> Text:
    """``sigmoid(x)``: the module's own function (:data:`HELPERS`), one exp of -|x|."""
    return Text(f"{p.helper('sigmoid')}({p.expr(op.args[0])})", ATOM)


def _np_softplus(p: TablePrinter, op: Op) -> Text:
    """log(1 + exp(x)) as ``np.logaddexp(0, x)``: max(x, 0) + log1p(exp(-|x|))."""
    return p.call(p.ref("numpy", "logaddexp"), (Const(0, "0"), op.args[0]))


def _np_log_sigmoid(p: TablePrinter, op: Op) -> Text:
    """log(sigmoid(x)) = -log(1 + exp(-x)) as ``-np.logaddexp(0, -x)``."""
    inner = p.text(op.args[0])
    neg = "-" + wrap(inner, inner.prec < ATOM or inner.text.startswith("-"))
    return Text(f"-{p.ref('numpy', 'logaddexp')}(0, {neg})", UNARY)


def _np_norm(p: TablePrinter, op: Op) -> Text:
    """The Euclidean norm as ``np.hypot.reduce``: scaled as it goes, so no square
    overflows (1e200) or underflows (1e-300).  A ufunc reduces axis 0 by default, so
    ``axis=None`` (all axes) is written out."""
    params = dict(op.params)
    inner = reduce_args(params)
    if params.get("axis") is None:
        inner = "axis=None" + (f", {inner}" if inner else "")
    return Text(
        f"{p.ref('numpy', 'hypot')}.reduce({p.expr(op.args[0])}, {inner})", ATOM
    )


def _np_relu(p: TablePrinter, op: Op) -> Text:
    return p.call(p.ref("numpy", "maximum"), (Const(0, "0"), op.args[0]))


def _np_extremum(attr: str) -> Rule:
    """n-ary max/min as nested two-argument calls: ``np.maximum(np.maximum(a, b), c)``."""

    def rule(p: TablePrinter, op: Op) -> Text:
        name = p.ref("numpy", attr)
        first, *rest = op.args
        text = p.text(first).text
        for arg in rest:
            text = f"{name}({text}, {p.text(arg).text})"
        return Text(text, ATOM)

    return rule


def _np_zeros_like(p: TablePrinter, op: Op) -> Text:
    return Text(
        f"{p.ref('numpy', 'zeros_like')}({p.expr(op.args[0])}, dtype=float)", ATOM
    )


def _np_broadcast_like(p: TablePrinter, op: Op) -> Text:
    """``g + np.zeros_like(like)``: g as a fresh array of like's shape (never the
    caller's array)."""
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    return Text(
        f"{wrap(g, g.prec < ADD)} + {p.ref('numpy', 'zeros_like')}({like})", ADD
    )


def _np_broadcast_like_lines(p: TablePrinter, target: str, op: Op) -> str:
    """As a statement of its own: ``g + np.zeros_like(like)`` unless g and like are
    both numbers (a call with Python floats); then ``np.float64(g)``, the type of every
    other number the module computes, without the array that would cost more than the
    whole computation."""
    g = p.text(op.args[0])
    like = p.expr(op.args[1])
    float64, zeros_like = p.ref("numpy", "float64"), p.ref("numpy", "zeros_like")
    numbers = f"isinstance({like}, float)"
    if not isinstance(op.args[0], Const):  # a constant seed is a number already
        numbers = f"isinstance({g.text}, float) and {numbers}"
    return (
        f"if {numbers}:\n"
        f"    {target} = {float64}({g.text})\n"
        "else:\n"
        f"    {target} = {wrap(g, g.prec < ADD)} + {zeros_like}({like})"
    )


def _np_copy(p: TablePrinter, op: Op) -> Text:
    if op.param("caller"):
        # the caller's argument may be a Python number, which has no .copy(): unary
        # plus makes a new array of an array and leaves a number a number
        arg = p.text(op.args[0])
        return Text(f"+{wrap(arg, arg.prec < UNARY)}", UNARY)
    return Text(f"{p.receiver(op.args[0])}.copy()", ATOM)


def _np_shift(p: TablePrinter, op: Op) -> Text:
    """The max-shift of a stable logsumexp/softmax; ``initial=-np.inf`` makes it -inf
    over an empty axis (where ``max`` alone raises), so the result is NumPy's own
    answer there: logsumexp -inf, empty softmax."""
    inf = p.ref("numpy", "inf")
    if p.dtype(op.args[0]) in ("int", "bool"):
        # an integer array cannot hold -inf: its max taken in float64 (the dtype of
        # what logsumexp/softmax make of it), written as a ufunc reduction, whose
        # axis must be spelled out (None: all axes; its default is 0)
        axis = axis_text(op.param("axis"))
        maximum, x = p.ref("numpy", "maximum"), p.expr(op.args[0])
        inner = f"axis={axis}, dtype=float, keepdims=True, initial=-{inf}"
        return Text(f"{maximum}.reduce({x}, {inner})", ATOM)
    keep = dict(op.params, keepdims=True)
    inner = reduce_args(keep) + f", initial=-{inf}"
    return Text(f"{p.receiver(op.args[0])}.max({inner})", ATOM)


def _np_as_float(p: TablePrinter, op: Op) -> Text:
    """A scalar output's upstream gradient: ``float`` refuses anything but a number,
    ``np.float64`` gives it NumPy's float rules (a mean over an empty batch divides
    by 0: inf and a warning, not ZeroDivisionError)."""
    inner = as_float(p, op).text
    return Text(f"{p.ref('numpy', 'float64')}({inner})", ATOM)


def _np_squeeze(p: TablePrinter, op: Op) -> Text:
    axis, inner = op.param("axis"), p.expr(op.args[0])
    squeeze = p.ref("numpy", "squeeze")
    if axis is None:
        return Text(f"{squeeze}({inner})", ATOM)
    return Text(f"{squeeze}({inner}, axis={axis_text(axis)})", ATOM)


def _np_broadcast_to(p: TablePrinter, op: Op) -> Text:
    # a fresh float array: gradients are float64 whatever the caller passed
    g, like = p.expr(op.args[0]), p.receiver(op.args[1])
    name = p.ref("numpy", "broadcast_to")
    return Text(f"{name}({g}, {like}.shape).astype(float)", ATOM)


def _np_expand(p: TablePrinter, op: Op) -> Text:
    # a new array shaped like ``like``, filled with g (broadcast)
    g, like = p.expr(op.args[0]), p.expr(op.args[1])
    axis = op.param("axis")
    if axis is not None and not op.param("keepdims"):
        g = f"{p.ref('numpy', 'expand_dims')}({g}, {axis_text(axis)})"
    return Text(f"{p.ref('numpy', 'full_like')}({like}, {g}, dtype=float)", ATOM)


def _np_expand_dims(p: TablePrinter, op: Op) -> Text:
    inner, axis = p.expr(op.args[0]), axis_text(op.param("axis"))
    return Text(f"{p.ref('numpy', 'expand_dims')}({inner}, {axis})", ATOM)


def _np_count(p: TablePrinter, op: Op) -> Text:
    a = p.receiver(op.args[0])
    axis = op.param("axis")
    if axis is None:
        return Text(f"{a}.size", ATOM)
    axes = axis if isinstance(axis, tuple) else (axis,)
    text = " * ".join(f"{a}.shape[{k}]" for k in axes)
    return Text(text, ATOM if len(axes) == 1 else MUL)


def _np_scatter_add(p: TablePrinter, target: str, op: Op) -> str:
    # two lines: a fresh zero array, then the scatter-add into it
    like, *index, value = op.args
    where = ", ".join(p.expr(a) for a in index)
    if len(index) > 1:
        where = f"({where})"
    return (
        f"{target} = {p.ref('numpy', 'zeros_like')}({p.expr(like)}, dtype=float)\n"
        f"{p.ref('numpy', 'add')}.at({target}, {where}, {p.expr(value)})"
    )


def _np_unslice(p: TablePrinter, target: str, op: Op) -> str:
    like, value = op.args[:2]
    return (
        f"{target} = {p.ref('numpy', 'zeros_like')}({p.expr(like)}, dtype=float)\n"
        f"{target}[{op.param('index')}] = {p.expr(value)}"
    )


# --- batched linear algebra and einsum ---------------------------------------------

#: ``np.einsum``'s ``optimize``: ``True`` (the greedy path, contracted with BLAS) was
#: 4-23x faster than ``False`` for attention-sized 2-operand einsums and 3-600x for
#: 3-operand ones, never slower (benchmarks/RESULTS-arrays.txt, "einsum")
EINSUM_OPTIMIZE = "True"


def _np_swapaxes(p: TablePrinter, op: Op) -> Text:
    i, j = op.param("axes", (-1, -2))
    return Text(f"{p.ref('numpy', 'swapaxes')}({p.expr(op.args[0])}, {i}, {j})", ATOM)


def _np_permute(p: TablePrinter, op: Op) -> Text:
    axes = axis_text(tuple(op.param("axes", ())))
    return Text(f"{p.ref('numpy', 'transpose')}({p.expr(op.args[0])}, {axes})", ATOM)


def _np_einsum(p: TablePrinter, op: Op) -> Text:
    operands = ", ".join(p.expr(a) for a in op.args)
    spec = op.param("spec", "")
    einsum = p.ref("numpy", "einsum")
    return Text(f'{einsum}("{spec}", {operands}, optimize={EINSUM_OPTIMIZE})', ATOM)


#: integer exponents printed as a product of the base: NumPy squares (``**2``), square
#: roots and reciprocals on fast paths, but ``a**3`` and ``a**4`` call the C library's
#: pow per element, about 100x slower than ``a * a * a`` (0.09 ms against 12 ms for
#: 262,144 float64 elements; the transformer block's GELU)
PRODUCT_POWERS = (3, 4)


def _np_pow(p: TablePrinter, op: Op) -> Text:
    base, exponent = op.args
    if (
        isinstance(exponent, Const)
        and exponent.value in PRODUCT_POWERS
        and not isinstance(base, Const)
    ):
        text = p.text(base)
        if text.simple and text.prec > MUL:
            return Text(" * ".join([text.text] * int(exponent.value)), MUL)
    return OPERATORS["pow"](p, op)


NUMPY: dict[str, Rule] = {
    **OPERATORS,
    "exp": function("numpy", "exp"),
    "log": function("numpy", "log"),
    "sqrt": function("numpy", "sqrt"),
    "sin": function("numpy", "sin"),
    "cos": function("numpy", "cos"),
    "tan": function("numpy", "tan"),
    "tanh": function("numpy", "tanh"),
    "sigmoid": _np_sigmoid,
    "relu": _np_relu,
    "abs": function("numpy", "abs"),
    "softplus": _np_softplus,
    "log_sigmoid": _np_log_sigmoid,
    "log1p": function("numpy", "log1p"),
    "expm1": function("numpy", "expm1"),
    "logaddexp": function("numpy", "logaddexp"),
    "norm": _np_norm,
    "max": _np_extremum("maximum"),
    "min": _np_extremum("minimum"),
    "sign": function("numpy", "sign"),
    "zeros_like": _np_zeros_like,
    "copy": _np_copy,
    "broadcast_like": StatementOrExpression(
        _np_broadcast_like_lines, _np_broadcast_like
    ),
    "as_float": _np_as_float,
    "broadcast_to": _np_broadcast_to,
    "matmul": MATMUL,
    "matvec": MATMUL,
    "vecmat": MATMUL,
    "dot": MATMUL,
    "outer": function("numpy", "outer"),
    "sum": method("sum"),
    "mean": method("mean"),
    "amax": method("max"),
    "amin": method("min"),
    "shift": _np_shift,
    "squeeze": _np_squeeze,
    "transpose": transpose,
    "reshape": reshape,
    "reshape_like": reshape_like,
    "expand": _np_expand,
    "expand_dims": _np_expand_dims,
    "count": _np_count,
    "gather": gather,
    "scatter_add": Statement(_np_scatter_add),
    "slice": sliced,
    "unslice": Statement(_np_unslice),
    "where": function("numpy", "where"),
    "arange": function("numpy", "arange"),
    "dim": dim_rule,
    # new axes, variance, joining
    "concatenate": joined("numpy.concatenate", "axis"),
    "stack": joined("numpy.stack", "axis"),
    "part": part,
    "bmatmul": MATMUL,
    "swapaxes": _np_swapaxes,
    "permute": _np_permute,
    "einsum": _np_einsum,
    # --- transformer: powers as products ---
    "pow": _np_pow,
}


# --- convolution and pooling ---------------------------------------------------------
# The module defines im2col (the windows of the images, a view), col2im (its adjoint:
# the windows added back into images) and max pooling's value, gradient and tangent;
# col2im adds the KH*KW offsets in a loop, 5x faster than np.add.at at the
# benchmark's size (benchmarks/RESULTS-arrays.txt, "convolution").

HELPERS.update(
    {
        "im2col": Helper(
            (
                "def im2col(x, kh, kw, stride, padding):",
                '    """The (kh, kw) windows of NCHW images x, every stride-th: a view of',
                '    shape (N, C, OH, OW, kh, kw) (of a padded copy when padding > 0)."""',
                "    if padding:",
                "        p = (padding, padding)",
                "        x = np.pad(x, ((0, 0), (0, 0), p, p))",
                "    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), (2, 3))",
                "    return windows[:, :, ::stride, ::stride]",
            ),
            ("numpy",),
        ),
        "col2im": Helper(
            (
                "def col2im(cols, shape, stride, padding):",
                '    """The adjoint of im2col: windows cols (N, C, OH, OW, kh, kw) added',
                '    back into images of ``shape``, one window offset at a time."""',
                "    n, c, h, w = shape",
                "    oh, ow, kh, kw = cols.shape[2:]",
                "    x = np.zeros((n, c, h + 2 * padding, w + 2 * padding))",
                "    for i in range(kh):",
                "        for j in range(kw):",
                "            rows = slice(i, i + stride * oh, stride)",
                "            columns = slice(j, j + stride * ow, stride)",
                "            x[:, :, rows, columns] += cols[:, :, :, :, i, j]",
                "    return x[:, :, padding : padding + h, padding : padding + w]",
            ),
            ("numpy",),
        ),
        "max_pool2d": Helper(
            (
                "def max_pool2d(x, k):",
                '    """The maximum of each k by k window of NCHW images x, at stride k."""',
                "    if x.shape[2] % k or x.shape[3] % k:",
                '        raise ValueError(f"max_pool2d: sizes {x.shape[2:]} not divisible by {k}")',
                "    out = x[:, :, ::k, ::k].copy()",
                "    for i in range(k):",
                "        for j in range(k):",
                "            np.maximum(out, x[:, :, i::k, j::k], out=out)",
                "    return out",
            ),
            ("numpy",),
        ),
        "avg_pool2d": Helper(
            (
                "def avg_pool2d(x, k):",
                '    """The mean of each k by k window of NCHW images x, at stride k."""',
                "    if x.shape[2] % k or x.shape[3] % k:",
                '        raise ValueError(f"avg_pool2d: sizes {x.shape[2:]} not divisible by {k}")',
                "    return im2col(x, k, k, k, 0).mean(axis=(4, 5))",
            ),
            ("numpy",),
        ),
        "max_pool2d_grad": Helper(
            (
                "def max_pool2d_grad(g, x, out, k):",
                '    """g (shaped like out = max_pool2d(x, k)) routed to each window\'s',
                '    maximum, split evenly among tied elements (as max)."""',
                "    offsets = [(i, j) for i in range(k) for j in range(k)]",
                "    share = g / sum(x[:, :, i::k, j::k] == out for i, j in offsets)",
                "    dx = np.zeros(x.shape)",
                "    for i, j in offsets:",
                "        dx[:, :, i::k, j::k] = (x[:, :, i::k, j::k] == out) * share",
                "    return dx",
            ),
            ("numpy",),
        ),
        "max_pool2d_tangent": Helper(
            (
                "def max_pool2d_tangent(dx, x, out, k):",
                '    """The tangent of out = max_pool2d(x, k) along dx: each window\'s',
                '    dx averaged over its tied maxima."""',
                "    offsets = [(i, j) for i in range(k) for j in range(k)]",
                "    hits = [x[:, :, i::k, j::k] == out for i, j in offsets]",
                "    total = sum(h * dx[:, :, i::k, j::k] for h, (i, j) in zip(hits, offsets))",
                "    return total / sum(hits)",
            ),
            (),
        ),
    }
)


def _windows(p: TablePrinter, x: str, op: Op) -> str:
    """``im2col(x, KH, KW, stride, padding)`` for a convolution or a pooling."""
    if "pool" in op.prim:
        k = op.param("k", 2)
        return f"{p.helper('im2col')}({x}, {k}, {k}, {k}, 0)"
    kh, kw = op.param("kernel", (1, 1))
    stride, padding = op.param("stride", 1), op.param("padding", 0)
    return f"{p.helper('im2col')}({x}, {kh}, {kw}, {stride}, {padding})"


def _einsum_text(p: TablePrinter, spec: str, *operands: str) -> str:
    einsum = p.ref("numpy", "einsum")
    return f'{einsum}("{spec}", {", ".join(operands)}, optimize={EINSUM_OPTIMIZE})'


def _np_conv2d(p: TablePrinter, op: Op) -> Text:
    """The filters times the image windows: ``np.einsum(... im2col(x, ...), w)``."""
    windows = _windows(p, p.expr(op.args[0]), op)
    return Text(_einsum_text(p, "nchwij,fcij->nfhw", windows, p.expr(op.args[1])), ATOM)


def _np_conv2d_grad_input(p: TablePrinter, op: Op) -> Text:
    """The transposed convolution: the upstream times the filters, put back into
    images by col2im."""
    g, w, x = (p.expr(a) for a in op.args)
    cols = _einsum_text(p, "nfhw,fcij->nchwij", g, w)
    stride, padding = op.param("stride", 1), op.param("padding", 0)
    return Text(
        f"{p.helper('col2im')}({cols}, {p.receiver(op.args[2])}.shape, {stride}, "
        f"{padding})",
        ATOM,
    )


def _np_conv2d_grad_filter(p: TablePrinter, op: Op) -> Text:
    """The upstream times the image windows."""
    windows = _windows(p, p.expr(op.args[0]), op)
    return Text(_einsum_text(p, "nfhw,nchwij->fcij", p.expr(op.args[1]), windows), ATOM)


def _np_avg_pool2d(p: TablePrinter, op: Op) -> Text:
    """The module's own avg_pool2d (the windows' mean, divisibility checked)."""
    p.helper("im2col")
    return _np_max_pool2d_helper(p, op)


def _np_max_pool2d_helper(p: TablePrinter, op: Op) -> Text:
    """The module's own max_pool2d, max_pool2d_grad or max_pool2d_tangent (a loop
    over the k*k offsets: 5x faster than reducing im2col's windows, measured in
    benchmarks/RESULTS-arrays.txt, "convolution")."""
    args = ", ".join(p.expr(a) for a in op.args)
    return Text(f"{p.helper(op.prim)}({args}, {op.param('k', 2)})", ATOM)


def _np_avg_pool2d_grad(p: TablePrinter, op: Op) -> Text:
    """The upstream repeated over each k by k window, divided by k*k."""
    k = op.param("k", 2)
    repeat = p.ref("numpy", "repeat")
    inner = f"{repeat}({repeat}({p.expr(op.args[0])}, {k}, axis=2), {k}, axis=3)"
    return Text(f"{inner} / {k * k}", MUL)


NUMPY.update(
    {
        "conv2d": _np_conv2d,
        "conv2d_grad_input": _np_conv2d_grad_input,
        "conv2d_grad_filter": _np_conv2d_grad_filter,
        "max_pool2d": _np_max_pool2d_helper,
        "max_pool2d_grad": _np_max_pool2d_helper,
        "max_pool2d_tangent": _np_max_pool2d_helper,
        "avg_pool2d": _np_avg_pool2d,
        "avg_pool2d_grad": _np_avg_pool2d_grad,
    }
)
