"""The lowerings of user functions: one small function per name, in the table
:data:`LOWERINGS` that the builder (:mod:`codegen.builder`) calls.  Each checks what
only the source can tell (a scalar where an array is needed, a name where a value is
needed) and emits primitives; ``softmax`` and its kin become several."""

from __future__ import annotations

import ast

from .builder import Builder, Lowering
from .dims import Dim, SizeProblem, dim_names, from_ast, may_be_nonnegative, minus, show
from .einsum import SpecProblem, parse_spec
from .ir import Atom, Const, Op, Var
from .primitives import FUNCTIONS
from .shapes import shape_text
from .syntax import Call, literal_value


def _elementwise(b: Builder, c: Call) -> Atom:
    """exp, log, sqrt, ..., logaddexp: the function's own primitive, as it is."""
    if c.options:
        raise b.error(f"{c.name}() takes no keyword arguments", c.node)
    return b.emit(c.name, c.args, c.target)


def _extremum(b: Builder, c: Call) -> Atom:
    """max(a, axis=...) reduces an array; max(a, b, ...) compares values (min alike)."""
    if len(c.args) == 1:
        if b.type_of(c.args[0]).rank == 0:
            raise b.error(
                f"{c.name}() of one argument reduces an array, but its argument is "
                "a scalar (to compare values, give two or more)",
                c.node,
            )
        prim = "amax" if c.name == "max" else "amin"
        return b.emit(prim, c.args, c.target, c.params)
    if c.options:
        raise b.error(f"{c.name}() of several values takes no axis", c.node)
    return b.emit(c.name, c.args, c.target)


def _maximum(b: Builder, c: Call) -> Atom:
    """maximum(0, x) is the ReLU, with the lecture's relu'(0) = 0."""
    zero = [isinstance(a, Const) and a.value == 0 for a in c.args]
    if any(zero) and not all(zero):
        (x,) = [a for a, z in zip(c.args, zero, strict=True) if not z]
        return b.emit("relu", (x,), c.target)
    return b.emit("max", c.args, c.target)


def _minimum(b: Builder, c: Call) -> Atom:
    return b.emit("min", c.args, c.target)


def _reduction(b: Builder, c: Call) -> Atom:
    """sum and mean over ``axis`` (default: all), ``keepdims``."""
    b.need_array(c.name, c.args[0], c.node)
    return b.emit(c.name, c.args, c.target, c.params)


def _shifted(b: Builder, a: Atom, axis: object) -> tuple[Atom, Atom, Atom, Atom]:
    """The max-shifted parts of logsumexp / softmax / log_softmax:

        m = a.max(axis, keepdims=True)   # the shift: no gradient (it cancels)
        e = exp(a - m);  z = e.sum(axis, keepdims=True)

    so that their gradients come from the saved ``e`` and ``z`` through the rules of
    exp, sum, div and log.  Returns ``(m, a - m, e, z)``."""
    shift = b.emit("shift", (a,), None, (("axis", axis),))
    centered = b.emit("sub", (a, shift), None)
    e = b.emit("exp", (centered,), None)
    z = b.emit("sum", (e,), None, (("axis", axis), ("keepdims", True)))
    return shift, centered, e, z


def _softmax(b: Builder, c: Call) -> Atom:
    """softmax = e / z (see :func:`_shifted`)."""
    b.need_array(c.name, c.args[0], c.node)
    _, _, e, z = _shifted(b, c.args[0], c.options.get("axis", -1))
    return b.emit("div", (e, z), c.target)


def _log_softmax(b: Builder, c: Call) -> Atom:
    """log_softmax = (a - m) - log(z)."""
    b.need_array(c.name, c.args[0], c.node)
    _, centered, _, z = _shifted(b, c.args[0], c.options.get("axis", -1))
    log_z = b.emit("log", (z,), None)
    return b.emit("sub", (centered, log_z), c.target)


def _logsumexp(b: Builder, c: Call) -> Atom:
    """logsumexp = log(z) + m, squeezed over ``axis`` unless ``keepdims``."""
    b.need_array(c.name, c.args[0], c.node)
    axis = c.options.get("axis")
    shift, _, _, z = _shifted(b, c.args[0], axis)
    log_z = b.emit("log", (z,), None)
    if c.options.get("keepdims"):
        return b.emit("add", (log_z, shift), c.target)
    total = b.emit("add", (log_z, shift), None)
    return b.emit("squeeze", (total,), c.target, (("axis", axis),))


def _transpose(b: Builder, c: Call) -> Atom:
    """transpose(a) reverses the axes; transpose(a, axes) permutes them."""
    b.need_array(c.name, c.args[0], c.node)
    if len(c.node.args) == 2:
        return _permute(b, c)
    return b.emit("transpose", c.args, c.target)


def _reshape(b: Builder, c: Call) -> Atom:
    """reshape(a, N, 1), reshape(X, B*T, D): its dimensions are sizes of dimension
    names or positive integers, and the element count stays (the shape rule checks
    it); the shape is the ``shape`` param, and the dimension variables it names are
    arguments after ``a``.  A scalar (an input, a
    dimension's size, a constant or a value) is refused: the module would call
    ``.reshape`` on a Python number."""
    arg = c.args[0]
    if b.type_of(arg).rank == 0:
        if isinstance(arg, Const):
            kind = "a constant"
        elif arg.name in b.dims and arg.name not in b.decls:
            kind = "the size of a dimension, a number"
        elif arg.name in b.decls or arg.name in b.inputs:
            kind = "a scalar input"
        else:
            kind = "a scalar value"
        raise b.error(
            f"reshape() works on arrays, but '{ast.unparse(c.node.args[0])}' is "
            f"{kind}; use it as it is (it broadcasts)",
            c.node,
        )
    shape: list[Dim] = []
    names: dict[str, None] = {}
    for node in c.node.args[1:]:
        try:
            dim = from_ast(node)
        except SizeProblem as problem:
            raise b.error(str(problem), problem.node) from None
        if dim == 0 or not may_be_nonnegative(dim):
            raise b.error(
                f"reshape() dimension {ast.unparse(node)} is not a positive size", node
            )
        for name in dim_names(dim):
            if name not in b.dims or name in b.decls:
                raise b.error(
                    f"reshape() dimensions are sizes of dimension names (N, B*T) or "
                    f"positive integers; '{name}' is not a dimension name",
                    node,
                )
            names[name] = None
        shape.append(dim)
    sizes = tuple(b.dim_var(name) for name in sorted(names))
    params = (("shape", shape_text(tuple(shape))),)
    return b.emit("reshape", (arg, *sizes), c.target, params)


def _arange(b: Builder, c: Call) -> Atom:
    """arange(N): the indices 0..N-1 of a dimension (or of a positive integer)."""
    (n,) = c.args
    params: tuple[tuple[str, object], ...]
    if isinstance(n, Const) and isinstance(n.value, int) and n.value >= 1:
        length: object = n.value
        params = (("length", length),)
    elif isinstance(n, Var) and n.name in b.dims:
        length = n.name
        # the array N measures: backends that place arrays on devices put it there
        params = (("length", length), ("like", b.dims[n.name][0]))
    else:
        raise b.error(
            "arange() takes a dimension name (N) or a positive integer", c.node
        )
    result = b.emit("arange", c.args, c.target, params)
    if isinstance(result, Var):
        b.largest[result.name] = minus(length, 1)  # type: ignore[arg-type]
    return result


def _grad(b: Builder, c: Call) -> Atom:
    """grad(y, x): the gradient of the earlier scalar value ``y`` with respect to the
    input ``x``, shaped like ``x``.  Checked here and written as one ``grad`` statement
    (its parameter ``names``: ``y`` and ``x`` as the user wrote them);
    :func:`codegen.grad_pass.expand_grads` replaces it by the backward statements of the
    program before it (reverse mode, upstream gradient 1), flat and single-assignment,
    so that later statements can use the gradient and the whole program can be
    differentiated again (backpropagating twice)."""
    y, x = c.args
    names = [a.id if isinstance(a, ast.Name) else None for a in c.node.args]
    if names[0] is None or names[1] is None:
        raise b.error("grad(y, x) takes two names: a value and an input", c.node)
    if not isinstance(y, Var) or names[0] not in b.current or names[0] in b.dims:
        raise b.error(
            f"grad({names[0]}, {names[1]}): '{names[0]}' is not a value assigned "
            "before this line",
            c.node,
        )
    if not isinstance(x, Var) or names[1] in b.assignments.line or names[1] in b.dims:
        raise b.error(
            f"grad({names[0]}, {names[1]}): '{names[1]}' is not an input "
            "(differentiate with respect to an input)",
            c.node,
        )
    y_type, x_type = b.type_of(y), b.type_of(x)
    if y_type.rank or not y_type.differentiable:
        raise b.error(
            f"grad({names[0]}, {names[1]}): '{names[0]}' must be a float scalar "
            f"(it is {y_type.dtype} of shape {show(y_type.shape)}; reduce it with sum)",
            c.node,
        )
    if not x_type.differentiable:
        raise b.error(
            f"grad({names[0]}, {names[1]}): '{names[1]}' is an {x_type.dtype} input: "
            "it has no gradient",
            c.node,
        )
    b.inputs.setdefault(x.name, None)
    params = (("names", (names[0], names[1])),)
    return b.expanded_later(Op("grad", (y, x), params), x_type, c.target)


def _where(b: Builder, c: Call) -> Atom:
    if b.type_of(c.args[0]).dtype != "bool":
        raise b.error("where() needs a comparison as its condition (a > 0)", c.node)
    return b.emit("where", c.args, c.target)


def _norm(b: Builder, c: Call) -> Atom:
    """norm(a, axis=..., keepdims=...): the Euclidean norm, its own primitive."""
    b.need_array(c.name, c.args[0], c.node)
    return b.emit("norm", c.args, c.target, c.params)


# --- batched linear algebra and einsum ----------------------------------------------


def _permute(b: Builder, c: Call) -> Atom:
    """transpose(a, (0, 2, 1)): the axes (negative ones counted from the end) are a
    permutation of a's axes, stored counted from the start."""
    axes = literal_value(c.node.args[1])
    assert isinstance(axes, tuple)
    rank = b.type_of(c.args[0]).rank
    if len(axes) != rank or sorted(k % rank for k in axes if -rank <= k < rank) != list(
        range(rank)
    ):
        raise b.error(
            f"transpose() axes {axes} are not a permutation of the {rank} axes of "
            f"'{ast.unparse(c.node.args[0])}' (to swap two axes write "
            "swapaxes(a, i, j))",
            c.node.args[1],
        )
    params = (("axes", tuple(k % rank for k in axes)),)
    return b.emit("permute", c.args, c.target, params)


def _swapaxes(b: Builder, c: Call) -> Atom:
    """swapaxes(a, i, j): i and j integer literals, negative counting from the end."""
    a, *axes = c.args
    b.need_array(c.name, a, c.node)
    rank = b.type_of(a).rank
    values = [axis.value for axis in axes if isinstance(axis, Const)]
    for value, node in zip(values, c.node.args[1:], strict=True):
        if not -rank <= int(value) < rank:
            raise b.error(
                f"swapaxes(): axis {value} is out of range for "
                f"'{ast.unparse(c.node.args[0])}' of rank {rank}",
                node,
            )
    return b.emit("swapaxes", (a,), c.target, (("axes", tuple(values)),))


def _einsum(b: Builder, c: Call) -> Atom:
    """einsum("bqhe,bkhe->bhqk", Q, K): the spec parsed (:mod:`codegen.einsum`), each
    operand an array (the shape rule checks the rest)."""
    spec = c.node.args[0]
    assert isinstance(spec, ast.Constant) and isinstance(spec.value, str)
    try:
        parsed = parse_spec(spec.value)
    except SpecProblem as problem:
        raise b.error(str(problem), spec) from None
    if len(parsed.inputs) != len(c.args):
        raise b.error(
            f"einsum spec {spec.value!r} has {len(parsed.inputs)} operands, given "
            f"{len(c.args)}",
            c.node,
        )
    return b.emit("einsum", c.args, c.target, (("spec", parsed.text()),))


#: user functions with a lowering of their own
_SPECIAL: dict[str, Lowering] = {
    "norm": _norm,
    "max": _extremum,
    "min": _extremum,
    "maximum": _maximum,
    "minimum": _minimum,
    "sum": _reduction,
    "mean": _reduction,
    "logsumexp": _logsumexp,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "transpose": _transpose,
    "reshape": _reshape,
    "arange": _arange,
    "where": _where,
    "grad": _grad,
    "swapaxes": _swapaxes,
    "einsum": _einsum,
}

#: user function -> its lowering: every name in ``primitives.FUNCTIONS``; a function
#: without one of its own is its record's primitive applied to its arguments
LOWERINGS: dict[str, Lowering] = {
    name: _SPECIAL.get(name, _elementwise) for name in FUNCTIONS
}


# --- new axes, variance, joining -----------------------------------------------------


def _centered(b: Builder, c: Call) -> Atom:
    """``a - mean(a, axis, keepdims=True)``: what var and std measure."""
    b.need_array(c.name, c.args[0], c.node)
    axis = c.options.get("axis")
    mean = b.emit("mean", c.args, None, (("axis", axis), ("keepdims", True)))
    return b.emit("sub", (c.args[0], mean), None)


def _var(b: Builder, c: Call) -> Atom:
    """The population variance (ddof 0): mean((a - mean(a))**2), as
    ``torch.var(a, correction=0)``; its gradient follows from mean, sub and mul."""
    centered = _centered(b, c)
    square = b.emit("mul", (centered, centered), None)
    return b.emit("mean", (square,), c.target, c.params)


def _std(b: Builder, c: Call) -> Atom:
    """The population standard deviation: norm(a - mean(a)) / sqrt(n), n the count
    over the axes.  The norm's gradient is 0 where it is 0, so std's gradient at
    zero variance is 0, as ``torch.std`` gives (sqrt(var) would give nan there)."""
    centered = _centered(b, c)
    norm = b.emit("norm", (centered,), None, c.params)
    count = b.emit("count", (c.args[0],), None, (("axis", c.options.get("axis")),))
    return b.emit("div", (norm, b.emit("sqrt", (count,), None)), c.target)


def _join(b: Builder, c: Call) -> Atom:
    """concatenate([a, b], axis=k) and stack([a, b], axis=k): arrays only (a number
    has no axis to join along), the axis a non-negative int in the params."""
    axis = c.options.get("axis", 0)
    if not isinstance(axis, int):
        raise b.error(f"{c.name}(axis=...) must be an int", c.node)
    types = [b.type_of(a) for a in c.args]
    for item, kind in zip(c.node.args[0].elts, types, strict=True):  # type: ignore[attr-defined]
        if kind.rank == 0:
            raise b.error(
                f"{c.name}() joins arrays, but '{ast.unparse(item)}' is a scalar",
                item,
            )
    rank = types[0].rank + (c.name == "stack")
    if not -rank <= axis < rank:
        raise b.error(
            f"{c.name}(axis={axis}) is out of range for arrays of rank {types[0].rank}",
            c.node,
        )
    params: tuple[tuple[str, object], ...] = (("axis", axis % rank),)
    if c.name == "concatenate":
        sizes = tuple(t.shape[axis % rank] if t.rank == rank else 0 for t in types)
        params += (("sizes", sizes),)
    return b.emit(c.name, c.args, c.target, params)


# var, std, concatenate and stack, over the default of their names above
LOWERINGS.update({"var": _var, "std": _std, "concatenate": _join, "stack": _join})


# --- convolution and pooling ------------------------------------------------------------


def _conv2d(b: Builder, c: Call) -> Atom:
    """conv2d(x, w, stride=1, padding=0): the filter size (KH, KW) goes in the params
    too (the gradient primitives read it); the shape rule checks the rest."""
    x, w = c.args
    for arg, node in zip(c.args, c.node.args, strict=True):
        b.need_array(c.name, arg, node)
    kernel = b.type_of(w).shape[2:]
    params = (
        ("kernel", tuple(kernel)),
        ("padding", c.options.get("padding", 0)),
        ("stride", c.options.get("stride", 1)),
    )
    return b.emit("conv2d", (x, w), c.target, params)


def _pool(b: Builder, c: Call) -> Atom:
    """max_pool2d(x, k) and avg_pool2d(x, k): k by k windows, stride k."""
    b.need_array(c.name, c.args[0], c.node)
    k = literal_value(c.node.args[1])
    return b.emit(c.name, c.args[:1], c.target, (("k", k),))


LOWERINGS.update({"conv2d": _conv2d, "max_pool2d": _pool, "avg_pool2d": _pool})
