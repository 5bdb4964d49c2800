"""The torch backend's printing table: tensors, any device and dtype."""

from __future__ import annotations

from .ir import Op
from .print_core import (
    ADD,
    ATOM,
    MATMUL,
    MUL,
    OPERATORS,
    Rule,
    Statement,
    TablePrinter,
    Text,
    wrap,
)
from .print_math import MATH
from .print_shared import (
    axis_text,
    builtin,
    dim_rule,
    function,
    gather,
    joined,
    part,
    reshape,
    reshape_like,
    sliced,
    transpose,
)


def _torch_function(attr: str) -> Rule:
    """``torch.attr(x)``; of plain numbers (constants, sizes and what is computed
    from them alone: ``sqrt(D)``, ``log(2 * pi)``), ``math.attr``: a number, placed
    on no device (``torch.sqrt`` takes tensors only)."""

    def rule(p: TablePrinter, op: Op) -> Text:
        if all(p.number(a) for a in op.args):
            return p.call(p.ref("math", attr), op.args)
        return p.call(p.ref("torch", attr), op.args)

    return rule


def _dims(params: dict, keep: bool | None = None) -> str:
    parts = []
    if params.get("axis") is not None:
        parts.append(f"dim={axis_text(params['axis'])}")
        if keep if keep is not None else params.get("keepdims"):
            parts.append("keepdim=True")
    return ", ".join(parts)


def _torch_method(name: str, whole: str | None = None) -> Rule:
    """A reduction as a method: ``a.sum(dim=0)``, ``a.amax(dim=1, keepdim=True)``;
    over every axis, ``a.<whole>()``."""

    def rule(p: TablePrinter, op: Op) -> Text:
        params = dict(op.params)
        method = name if params.get("axis") is not None else (whole or name)
        return Text(f"{p.receiver(op.args[0])}.{method}({_dims(params)})", ATOM)

    return rule


def _torch_extremum(attr: str, bound: str) -> Rule:
    """n-ary max/min as nested ``torch.maximum``; a bound that is a plain number as
    ``torch.clamp(x, min=c)`` (torch.maximum takes tensors only)."""

    def rule(p: TablePrinter, op: Op) -> Text:
        tensors = [a for a in op.args if not p.number(a)]
        constants = [a for a in op.args if p.number(a)]
        if not tensors:  # numbers only: the builtin
            return p.call(op.prim, op.args)
        text = p.text(tensors[0]).text
        for arg in tensors[1:]:
            text = f"{p.ref('torch', attr)}({text}, {p.text(arg).text})"
        for const in constants:
            text = f"{p.ref('torch', 'clamp')}({text}, {bound}={p.text(const).text})"
        return Text(text, ATOM)

    return rule


def _torch_zeros_like(p: TablePrinter, op: Op) -> Text:
    return Text(f"{p.ref('torch', 'zeros_like')}({p.expr(op.args[0])})", ATOM)


def _torch_broadcast_like(p: TablePrinter, op: Op) -> Text:
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    zeros = p.ref("torch", "zeros_like")
    return Text(f"{wrap(g, g.prec < ADD)} + {zeros}({like})", ADD)


def _torch_copy(p: TablePrinter, op: Op) -> Text:
    return Text(f"{p.receiver(op.args[0])}.clone()", ATOM)


def _torch_as_float(p: TablePrinter, op: Op) -> Text:
    return p.call(p.ref("torch", "as_tensor"), op.args)


def _torch_broadcast_to(p: TablePrinter, op: Op) -> Text:
    """The caller's upstream gradient as a fresh tensor of ``like``'s shape, dtype and
    device (a number is broadcast; a tensor keeps its autograd history)."""
    g, like = p.expr(op.args[0]), p.receiver(op.args[1])
    tensor = (
        f"{p.ref('torch', 'as_tensor')}({g}, dtype={like}.dtype, device={like}.device)"
    )
    return Text(f"{tensor}.broadcast_to({like}.shape).clone()", ATOM)


def _torch_shift(p: TablePrinter, op: Op) -> Text:
    params = dict(op.params)
    receiver = p.receiver(op.args[0])
    if params.get("axis") is None:
        return Text(f"{receiver}.max()", ATOM)
    return Text(f"{receiver}.amax({_dims(params, keep=True)})", ATOM)


def _torch_squeeze(p: TablePrinter, op: Op) -> Text:
    axis = op.param("axis")
    inner = "" if axis is None else axis_text(axis)
    return Text(f"{p.receiver(op.args[0])}.squeeze({inner})", ATOM)


def _unsqueezed(p: TablePrinter, text: str, axis: object) -> str:
    """``text`` with size-1 axes put in at ``axis`` (an int or a tuple), numbered in
    the result as ``np.expand_dims`` numbers them: ascending from the front, and
    negative ones (counted from the end) from the end first (``-1`` before ``-3``),
    so that each is at its place in the result when put in."""
    axes = (
        sorted(axis, key=lambda k: (k < 0, -k if k < 0 else k))
        if isinstance(axis, tuple)
        else [axis]
    )
    for k in axes:
        text = f"{p.ref('torch', 'unsqueeze')}({text}, {k})"
    return text


def _torch_expand(p: TablePrinter, op: Op) -> Text:
    """A new tensor shaped like ``like``, filled with g (broadcast); g may be a
    number or a tensor with autograd history (torch.full_like would drop it)."""
    g, like = p.text(op.args[0]), p.expr(op.args[1])
    text = g.text
    axis = op.param("axis")
    if axis is not None and not op.param("keepdims"):
        text = _unsqueezed(p, text, axis)
    elif g.prec < ADD:
        text = f"({text})"
    return Text(f"{p.ref('torch', 'zeros_like')}({like}) + {text}", ADD)


def _torch_expand_dims(p: TablePrinter, op: Op) -> Text:
    return Text(_unsqueezed(p, p.expr(op.args[0]), op.param("axis")), ATOM)


def _torch_count(p: TablePrinter, op: Op) -> Text:
    a = p.receiver(op.args[0])
    axis = op.param("axis")
    if axis is None:
        return Text(f"{a}.numel()", ATOM)
    axes = axis if isinstance(axis, tuple) else (axis,)
    text = " * ".join(f"{a}.shape[{k}]" for k in axes)
    return Text(text, ATOM if len(axes) == 1 else MUL)


def _torch_arange(p: TablePrinter, op: Op) -> Text:
    """``torch.arange(N, device=X.device)``: on the device of the array N measures."""
    like = op.param("like")
    device = f", device={like}.device" if like else ""
    return Text(f"{p.ref('torch', 'arange')}({p.expr(op.args[0])}{device})", ATOM)


def _torch_scatter_add(p: TablePrinter, target: str, op: Op) -> str:
    like, *index, value = op.args
    where = ", ".join(p.expr(a) for a in index) + ("," if len(index) == 1 else "")
    return (
        f"{target} = {p.ref('torch', 'zeros_like')}({p.expr(like)})\n"
        f"{target}.index_put_(({where}), {p.expr(value)}, accumulate=True)"
    )


def _torch_unslice(p: TablePrinter, target: str, op: Op) -> str:
    like, value = op.args[:2]
    return (
        f"{target} = {p.ref('torch', 'zeros_like')}({p.expr(like)})\n"
        f"{target}[{op.param('index')}] = {p.expr(value)}"
    )


def _torch_softplus(p: TablePrinter, op: Op) -> Text:
    """max(x, 0) + log1p(exp(-|x|)): exact across the range (torch's own softplus
    switches to x past a threshold)."""
    x = p.expr(op.args[0])
    clamp, log1p, exp = (p.ref("torch", f) for f in ("clamp", "log1p", "exp"))
    return Text(f"{clamp}({x}, min=0) + {log1p}({exp}(-abs({x})))", ADD)


def _torch_log_sigmoid(p: TablePrinter, op: Op) -> Text:
    """min(x, 0) - log1p(exp(-|x|))."""
    x = p.expr(op.args[0])
    clamp, log1p, exp = (p.ref("torch", f) for f in ("clamp", "log1p", "exp"))
    return Text(f"{clamp}({x}, max=0) - {log1p}({exp}(-abs({x})))", ADD)


def _torch_logaddexp(p: TablePrinter, op: Op) -> Text:
    """``torch.logaddexp(a, b)``; a side that is a plain number becomes a tensor like
    the other; of two numbers, max(a, b) + log1p(exp(-|a - b|)) with ``math``."""
    a, b = op.args
    if p.number(a) and p.number(b):
        log1p, exp = p.ref("math", "log1p"), p.ref("math", "exp")
        diff = p.expr(Op("sub", (a, b)))
        return Text(
            f"max({p.expr(a)}, {p.expr(b)}) + {log1p}({exp}(-abs({diff})))", ADD
        )
    if p.number(a):
        a, b = b, a
    if p.number(b):
        full = f"{p.ref('torch', 'full_like')}({p.expr(a)}, {p.expr(b)})"
        return Text(f"{p.ref('torch', 'logaddexp')}({p.expr(a)}, {full})", ATOM)
    return p.call(p.ref("torch", "logaddexp"), op.args)


def _torch_norm(p: TablePrinter, op: Op) -> Text:
    """The Euclidean norm, ``torch.linalg.vector_norm(a, dim=..., keepdim=...)``."""
    params = dict(op.params)
    inner = _dims(params)
    name = p.ref("torch", "linalg")
    args = p.expr(op.args[0]) + (f", {inner}" if inner else "")
    return Text(f"{name}.vector_norm({args})", ATOM)


def _torch_where(p: TablePrinter, op: Op) -> Text:
    return p.call(p.ref("torch", "where"), op.args)


# --- batched linear algebra and einsum ---------------------------------------------


def _torch_swapaxes(p: TablePrinter, op: Op) -> Text:
    """``a.mT`` for the last two axes, ``torch.swapaxes(a, i, j)`` otherwise."""
    i, j = op.param("axes", (-1, -2))
    if {i, j} == {-1, -2}:
        return Text(f"{p.receiver(op.args[0])}.mT", ATOM)
    return Text(f"{p.ref('torch', 'swapaxes')}({p.expr(op.args[0])}, {i}, {j})", ATOM)


def _torch_permute(p: TablePrinter, op: Op) -> Text:
    axes = ", ".join(str(k) for k in op.param("axes", ()))
    return Text(f"{p.receiver(op.args[0])}.permute({axes})", ATOM)


def _torch_einsum(p: TablePrinter, op: Op) -> Text:
    operands = ", ".join(p.expr(a) for a in op.args)
    spec = op.param("spec", "")
    return Text(f'{p.ref("torch", "einsum")}("{spec}", {operands})', ATOM)


TORCH: dict[str, Rule] = {
    **OPERATORS,
    "exp": _torch_function("exp"),
    "log": _torch_function("log"),
    "sqrt": _torch_function("sqrt"),
    "sin": _torch_function("sin"),
    "cos": _torch_function("cos"),
    "tan": _torch_function("tan"),
    "tanh": _torch_function("tanh"),
    "sigmoid": function("torch", "sigmoid"),
    "relu": function("torch", "relu"),
    "abs": builtin("abs"),
    "max": _torch_extremum("maximum", "min"),
    "min": _torch_extremum("minimum", "max"),
    "sign": function("torch", "sign"),
    "zeros_like": _torch_zeros_like,
    "copy": _torch_copy,
    "broadcast_like": _torch_broadcast_like,
    "as_float": _torch_as_float,
    "broadcast_to": _torch_broadcast_to,
    "matmul": MATMUL,
    "matvec": MATMUL,
    "vecmat": MATMUL,
    "dot": MATMUL,
    "outer": function("torch", "outer"),
    "sum": _torch_method("sum"),
    "mean": _torch_method("mean"),
    "amax": _torch_method("amax", "max"),
    "amin": _torch_method("amin", "min"),
    "shift": _torch_shift,
    "squeeze": _torch_squeeze,
    "transpose": transpose,
    "reshape": reshape,
    "reshape_like": reshape_like,
    "expand": _torch_expand,
    "expand_dims": _torch_expand_dims,
    "count": _torch_count,
    "gather": gather,
    "scatter_add": Statement(_torch_scatter_add),
    "slice": sliced,
    "unslice": Statement(_torch_unslice),
    "where": _torch_where,
    "softplus": _torch_softplus,
    "log_sigmoid": _torch_log_sigmoid,
    "log1p": _torch_function("log1p"),
    "expm1": _torch_function("expm1"),
    "logaddexp": _torch_logaddexp,
    "norm": _torch_norm,
    "arange": _torch_arange,
    "dim": dim_rule,
    # new axes, variance, joining
    "concatenate": joined("torch.cat", "dim"),
    "stack": joined("torch.stack", "dim"),
    "part": part,
    "bmatmul": MATMUL,
    "swapaxes": _torch_swapaxes,
    "permute": _torch_permute,
    "einsum": _torch_einsum,
}


def _numbers_in_math(tensors: Rule, numbers: Rule) -> Rule:
    """``tensors``, or ``numbers`` (the math backend's spelling) when every argument is
    a plain number (a constant, a size, what is computed from them alone): torch's
    functions take tensors only (``torch.sigmoid(2)`` is a TypeError)."""

    def rule(p: TablePrinter, op: Op) -> Text:
        if op.args and all(p.number(a) for a in op.args):
            return numbers(p, op)
        return tensors(p, op)

    return rule


def _with_numbers_in_math(table: dict[str, Rule]) -> dict[str, Rule]:
    """The table with each function the math backend also prints (other than the
    operators, which both spell alike) printed as there for plain numbers."""
    return {
        name: (
            _numbers_in_math(rule, MATH[name])
            if name in MATH
            and MATH[name] is not rule
            and not isinstance(rule, Statement)
            and not isinstance(MATH[name], Statement)
            else rule
        )
        for name, rule in table.items()
    }


TORCH = _with_numbers_in_math(TORCH)


# --- convolution and pooling ---------------------------------------------------------
# PyTorch's own ops for the values; max pooling's gradient and tangent are written out
# so that ties split evenly, as in every backend (F.max_pool2d's own backward routes
# a tied window's gradient to one element).


def _torch_conv_options(op: Op) -> str:
    return f"stride={op.param('stride', 1)}, padding={op.param('padding', 0)}"


def _torch_conv2d(p: TablePrinter, op: Op) -> Text:
    x, w = (p.expr(a) for a in op.args)
    conv = p.ref("torch", "nn.functional.conv2d")
    return Text(f"{conv}({x}, {w}, {_torch_conv_options(op)})", ATOM)


def _torch_conv2d_grad_input(p: TablePrinter, op: Op) -> Text:
    g, w, _ = (p.expr(a) for a in op.args)
    shape = f"{p.receiver(op.args[2])}.shape"
    grad = p.ref("torch", "nn.grad.conv2d_input")
    return Text(f"{grad}({shape}, {w}, {g}, {_torch_conv_options(op)})", ATOM)


def _torch_conv2d_grad_filter(p: TablePrinter, op: Op) -> Text:
    x, g = (p.expr(a) for a in op.args)
    kh, kw = op.param("kernel", (1, 1))
    shape = f"({p.receiver(op.args[1])}.shape[1], {p.receiver(op.args[0])}.shape[1], {kh}, {kw})"
    grad = p.ref("torch", "nn.grad.conv2d_weight")
    return Text(f"{grad}({x}, {shape}, {g}, {_torch_conv_options(op)})", ATOM)


def _torch_pool(attr: str) -> Rule:
    def rule(p: TablePrinter, op: Op) -> Text:
        pool = p.ref("torch", f"nn.functional.{attr}")
        return Text(f"{pool}({p.expr(op.args[0])}, {op.param('k', 2)})", ATOM)

    return rule


def _up(text: str, k: object) -> str:
    """Each element repeated over its k by k window."""
    return f"{text}.repeat_interleave({k}, 2).repeat_interleave({k}, 3)"


def _torch_hit(p: TablePrinter, op: Op) -> str:
    """Where each window of x (argument 1) equals its maximum out (argument 2), as
    x's dtype."""
    x, k = p.receiver(op.args[1]), op.param("k", 2)
    return f"({x} == {_up(p.receiver(op.args[2]), k)}).to({x}.dtype)"


def _torch_window_sum(p: TablePrinter, text: str, k: object) -> str:
    pool = p.ref("torch", "nn.functional.avg_pool2d")
    return f"{pool}({text}, {k}, divisor_override=1)"


def _torch_max_pool2d_grad(p: TablePrinter, op: Op) -> Text:
    """``hit * up(g / ties)``: g split evenly among each window's maxima."""
    k, hit = op.param("k", 2), _torch_hit(p, op)
    share = f"({p.expr(op.args[0])} / {_torch_window_sum(p, hit, k)})"
    return Text(f"{hit} * {_up(share, k)}", MUL)


def _torch_max_pool2d_tangent(p: TablePrinter, op: Op) -> Text:
    """The tangent averaged over each window's maxima."""
    k, hit = op.param("k", 2), _torch_hit(p, op)
    d = p.receiver(op.args[0])
    total = _torch_window_sum(p, f"{d} * {hit}", k)
    return Text(f"{total} / {_torch_window_sum(p, hit, k)}", MUL)


def _torch_avg_pool2d_grad(p: TablePrinter, op: Op) -> Text:
    k = op.param("k", 2)
    return Text(f"{_up(p.receiver(op.args[0]), k)} / {k * k}", MUL)


TORCH.update(
    {
        "conv2d": _torch_conv2d,
        "conv2d_grad_input": _torch_conv2d_grad_input,
        "conv2d_grad_filter": _torch_conv2d_grad_filter,
        "max_pool2d": _torch_pool("max_pool2d"),
        "max_pool2d_grad": _torch_max_pool2d_grad,
        "max_pool2d_tangent": _torch_max_pool2d_tangent,
        "avg_pool2d": _torch_pool("avg_pool2d"),
        "avg_pool2d_grad": _torch_avg_pool2d_grad,
    }
)
