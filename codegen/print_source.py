"""The source notation's printing table: the user's own notation, for comments."""

from __future__ import annotations

from .ir import Op
from .print_core import ATOM, MATMUL, OPERATORS, Rule, TablePrinter, Text
from .print_shared import (
    as_float,
    gather,
    joined,
    method,
    part,
    same,
    sliced,
    transpose,
)


def _source_call(p: TablePrinter, op: Op) -> Text:
    """``prim(args, option=value)``: how a comment shows a primitive the user cannot
    write (``expand(dt, t, axis=1)``) or writes as a call (``sigmoid(x)``)."""
    options = [f"{k}={v!r}" for k, v in op.params]
    inner = ", ".join([p.text(a).text for a in op.args] + options)
    return Text(f"{op.prim}({inner})", ATOM)


# --- batched linear algebra and einsum ---------------------------------------------


def _source_swapaxes(p: TablePrinter, op: Op) -> Text:
    i, j = op.param("axes", (-1, -2))
    if (i, j) == (-1, -2):
        return Text(f"{p.receiver(op.args[0])}.mT", ATOM)
    return Text(f"swapaxes({p.expr(op.args[0])}, {i}, {j})", ATOM)


def _source_permute(p: TablePrinter, op: Op) -> Text:
    return Text(f"transpose({p.expr(op.args[0])}, {tuple(op.param('axes', ()))})", ATOM)


def _source_einsum(p: TablePrinter, op: Op) -> Text:
    operands = ", ".join(p.expr(a) for a in op.args)
    return Text(f'einsum("{op.param("spec", "")}", {operands})', ATOM)


def _source_reshape(p: TablePrinter, op: Op) -> Text:
    """``reshape(X, B*T, D)``, as the program writes it."""
    shape = op.param("shape")
    if not isinstance(shape, str):
        return _source_call(p, op)
    return Text(f"reshape({p.text(op.args[0]).text}, {shape})", ATOM)


SOURCE: dict[str, Rule] = {
    **OPERATORS,
    "exp": _source_call,
    "log": _source_call,
    "sqrt": _source_call,
    "sin": _source_call,
    "cos": _source_call,
    "tan": _source_call,
    "tanh": _source_call,
    "sigmoid": _source_call,
    "relu": _source_call,
    "abs": _source_call,
    "softplus": _source_call,
    "log_sigmoid": _source_call,
    "log1p": _source_call,
    "expm1": _source_call,
    "logaddexp": _source_call,
    "norm": _source_call,
    "max": _source_call,
    "min": _source_call,
    "sign": _source_call,
    "zeros_like": _source_call,
    "copy": same,
    "broadcast_like": same,
    "as_float": as_float,
    "broadcast_to": _source_call,
    "matmul": MATMUL,
    "matvec": MATMUL,
    "vecmat": MATMUL,
    "dot": MATMUL,
    "outer": _source_call,
    "sum": method("sum"),
    "mean": method("mean"),
    "amax": method("max"),
    "amin": method("min"),
    "shift": _source_call,
    "squeeze": _source_call,
    "transpose": transpose,
    "reshape": _source_reshape,
    "reshape_like": _source_call,
    "expand": _source_call,
    "expand_dims": _source_call,
    "count": _source_call,
    "gather": gather,
    "scatter_add": _source_call,
    "slice": sliced,
    "unslice": _source_call,
    "where": _source_call,
    "arange": _source_call,
    "dim": _source_call,
    # new axes, variance, joining
    "concatenate": joined("concatenate", "axis"),
    "stack": joined("stack", "axis"),
    "part": part,
    "bmatmul": MATMUL,
    "swapaxes": _source_swapaxes,
    "permute": _source_permute,
    "einsum": _source_einsum,
}


# --- convolution and pooling ---------------------------------------------------------


def _source_conv2d(p: TablePrinter, op: Op) -> Text:
    x, w = (p.expr(a) for a in op.args)
    options = f"stride={op.param('stride', 1)}, padding={op.param('padding', 0)}"
    return Text(f"conv2d({x}, {w}, {options})", ATOM)


def _source_pool(p: TablePrinter, op: Op) -> Text:
    return Text(f"{op.prim}({p.expr(op.args[0])}, {op.param('k', 2)})", ATOM)


SOURCE.update(
    {
        "conv2d": _source_conv2d,
        "conv2d_grad_input": _source_call,
        "conv2d_grad_filter": _source_call,
        "max_pool2d": _source_pool,
        "max_pool2d_grad": _source_call,
        "max_pool2d_tangent": _source_call,
        "avg_pool2d": _source_pool,
        "avg_pool2d_grad": _source_call,
    }
)
