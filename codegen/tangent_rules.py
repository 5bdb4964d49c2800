"""The tangent (forward-mode) rules: one small function per primitive, named after it,
the sibling of :mod:`codegen.reverse_rules`; each primitive's record in
:mod:`codegen.primitives` points at its rule.

Contract: a rule sees the tangents of the statement's arguments ``dots`` (one per
argument: an expression, or ``None`` where that argument's tangent is zero, such as a
constant or an integer label), the statement's output ``out`` and its arguments
``args``.  It returns the output's tangent: an expression for
``sum_i d(out)/d(arg_i) * dots[i]``, or ``None`` when it is zero.  Like the reverse rules,
tangent rules use the output where that is cheaper and stabler (exp' is its output,
sigmoid' = s(1 - s), tanh' = 1 - t**2, sqrt' = 0.5 / s), and follow the same conventions
at non-differentiable points (relu'(0) = 0, abs'(0) = 0, ties of max/min split evenly,
a ** b at a = 0 has gradient 0 in b).

Array rules are written like the math too: ``d(A @ B) = dA @ B + A @ dB``; a tangent is
always shaped like its value (forward mode never materialises a Jacobian).

``tests/test_tangents.py`` checks that every primitive's record has a rule and that
each agrees with ``sympy.diff`` of its meaning.
"""

from __future__ import annotations

from collections.abc import Callable

from .ir import Const, Expr, Op, call

Dot = Expr | None
TangentFn = Callable[..., Dot]


def _plus(*terms: Dot) -> Dot:
    """The sum of the nonzero terms (None if all are zero)."""
    total: Dot = None
    for term in terms:
        if term is None:
            continue
        total = term if total is None else total + term
    return total


def _scaled(dot: Dot, factor: Expr) -> Dot:
    return None if dot is None else dot * factor


def linear(prim: str) -> TangentFn:
    """A primitive linear in its first argument (the rest static): the tangent is the
    primitive applied to the tangent: sum, transpose, reshape, slice, ..."""

    def rule(dots, out, args, **params):
        first, *rest = dots
        if first is None:
            return None
        return Op(prim, (first, *args[1:]), tuple(sorted(params.items())))

    return rule


def add(dots, out, args):
    da, db = dots
    return _plus(da, db)


def sub(dots, out, args):
    da, db = dots
    if db is None:
        return da
    return -db if da is None else da - db


def mul(dots, out, args):
    a, b = args
    da, db = dots
    return _plus(_scaled(da, b), None if db is None else a * db)


def div(dots, out, args):
    a, b = args
    da, db = dots
    # d(a / b) = (da - out * db) / b
    if db is None:
        return None if da is None else da / b
    if da is None:
        return -(out * db) / b
    return (da - out * db) / b


def pow(dots, out, args):
    """d(a**b) = b a**(b-1) da + a**b log(a) db, with log(1) taken at a = 0 (the
    gradient in b there is 0, as in reverse mode)."""
    a, b = args
    da, db = dots
    first = None if da is None else b * a ** (b - 1) * da
    if db is None:
        return first
    if isinstance(a, Const):
        log_a = call("log", a)
    else:
        log_a = call("log", call("where", call("eq", a, Const.of(0)), Const.of(1), a))
    return _plus(first, out * log_a * db)


def neg(dots, out, args):
    (da,) = dots
    return None if da is None else -da


def exp(dots, out, args):
    (da,) = dots
    return _scaled(da, out)


def log(dots, out, args):
    (a,) = args
    (da,) = dots
    return None if da is None else da / a


def sqrt(dots, out, args):
    (da,) = dots
    return None if da is None else da * 0.5 / out


def sin(dots, out, args):
    (a,) = args
    (da,) = dots
    return _scaled(da, call("cos", a))


def cos(dots, out, args):
    (a,) = args
    (da,) = dots
    return None if da is None else -da * call("sin", a)


def tan(dots, out, args):
    (da,) = dots
    return _scaled(da, 1 + out**2)


def tanh(dots, out, args):
    (da,) = dots
    return _scaled(da, 1 - out**2)


def sigmoid(dots, out, args):
    (da,) = dots
    return None if da is None else da * out * (1 - out)


def relu(dots, out, args):
    (da,) = dots
    if da is None:
        return None
    return call("where", call("gt", out, Const.of(0)), da, Const.of(0.0))


def abs(dots, out, args):
    (a,) = args
    (da,) = dots
    return _scaled(da, call("sign", a))


def softplus(dots, out, args):
    (da,) = dots
    return None if da is None else -da * call("expm1", -out)


def log_sigmoid(dots, out, args):
    (da,) = dots
    return None if da is None else -da * call("expm1", out)


def log1p(dots, out, args):
    (a,) = args
    (da,) = dots
    return None if da is None else da / (1 + a)


def expm1(dots, out, args):
    (a,) = args
    (da,) = dots
    return _scaled(da, call("exp", a))


def logaddexp(dots, out, args):
    """The reverse rule's shares, sigmoid(a - b) and sigmoid(b - a), from the inputs."""
    a, b = args
    da, db = dots
    return _plus(
        _scaled(da, call("sigmoid", a - b)), _scaled(db, call("sigmoid", b - a))
    )


def norm(dots, out, args, axis=None, keepdims=False):
    """d norm = sum(a * da) / norm, 0 where the norm is 0 (as the reverse rule)."""
    (a,) = args
    (da,) = dots
    if da is None:
        return None
    safe = call("where", call("eq", out, Const.of(0)), Const.of(1), out)
    return call("sum", a * da, axis=axis, keepdims=keepdims) / safe


def extremum(strict: str) -> TangentFn:
    """max (strict="gt") or min (strict="lt"): the winner's tangent; ties average."""

    def rule(dots, out, args):
        if len(args) == 2:
            a, b = args
            da, db = dots
            tie = 0.5 * call("eq", a, b)
            return _plus(
                _scaled(da, call(strict, a, b) + tie),
                _scaled(db, call(strict, b, a) + tie),
            )
        ties: Expr = Const.of(0.0)
        for arg in args:
            ties = Op("add", (ties, call("eq", arg, out)))
        terms = [
            _scaled(d, call("eq", a, out)) for a, d in zip(args, dots, strict=True)
        ]
        total = _plus(*terms)
        return None if total is None else total / ties

    return rule


def zero(dots, out, args, **params):
    """Piecewise-constant primitives (and integer results): zero tangent."""
    return None


def first(dots, out, args, **params):
    """The value passes through: the tangent of the first argument."""
    return dots[0]


def matmul(dots, out, args):
    a, b = args
    da, db = dots
    return _plus(
        None if da is None else call("matmul", da, b),
        None if db is None else call("matmul", a, db),
    )


def bilinear(prim: str) -> TangentFn:
    """d(a op b) = da op b + a op db for a product-like primitive."""

    def rule(dots, out, args):
        a, b = args
        da, db = dots
        return _plus(
            None if da is None else call(prim, da, b),
            None if db is None else call(prim, a, db),
        )

    return rule


def mean(dots, out, args, axis=None, keepdims=False):
    (da,) = dots
    if da is None:
        return None
    return call("mean", da, axis=axis, keepdims=keepdims)


def amax(dots, out, args, axis=None, keepdims=False):
    """The tangent at the maximum (ties averaged), like the reverse rule."""
    (a,) = args
    (da,) = dots
    if da is None:
        return None
    restored = out if keepdims or axis is None else call("expand_dims", out, axis=axis)
    hit = call("eq", a, restored)
    ties = call("sum", hit, axis=axis, keepdims=keepdims)
    return call("sum", da * hit, axis=axis, keepdims=keepdims) / ties


def expand(dots, out, args, axis=None, keepdims=False):
    dg, _ = dots
    if dg is None:
        return None
    return call("expand", dg, args[1], axis=axis, keepdims=keepdims)


def gather(dots, out, args):
    da, *_ = dots
    if da is None:
        return None
    return call("gather", da, *args[1:])


def scatter_add(dots, out, args):
    *_, dv = dots
    if dv is None:
        return None
    return call("scatter_add", *args[:-1], dv)


def unslice(dots, out, args, index=""):
    dv = dots[1]
    if dv is None:
        return None
    return call("unslice", args[0], dv, *args[2:], index=index)


def reshape_like(dots, out, args):
    da, _ = dots
    return None if da is None else call("reshape_like", da, args[1])


def broadcast_like(dots, out, args):
    dg, _ = dots
    return None if dg is None else call("broadcast_like", dg, args[1])


def broadcast_to(dots, out, args):
    dg, _ = dots
    return None if dg is None else call("broadcast_to", dg, args[1])


def where(dots, out, args):
    cond, a, b = args
    _, da, db = dots
    if da is None and db is None:
        return None
    zero = Const.of(0.0)
    return call("where", cond, zero if da is None else da, zero if db is None else db)


# --- new axes, variance, joining: concatenate, stack and their parts ---------------


def _joined(prim: str) -> TangentFn:
    """concatenate / stack: the join of the tangents, zeros for a zero tangent."""

    def rule(dots, out, args, **params):
        if all(d is None for d in dots):
            return None
        pieces = tuple(
            call("zeros_like", a) if d is None else d
            for a, d in zip(args, dots, strict=True)
        )
        return Op(prim, pieces, tuple(sorted(params.items())))

    return rule


concatenate = _joined("concatenate")
stack = _joined("stack")
part = linear("part")


# --- batched linear algebra and einsum ---------------------------------------------


def einsum(dots, out, args, spec=""):
    """The sum over the operands of the einsum with that operand's tangent in its
    place."""
    terms = []
    for k, dot in enumerate(dots):
        if dot is not None:
            replaced = (*args[:k], dot, *args[k + 1 :])
            terms.append(call("einsum", *replaced, spec=spec))
    return _plus(*terms)


# --- convolution and pooling ---------------------------------------------------------


def conv2d(dots, out, args, **params):
    """d conv2d(x, w) = conv2d(dx, w) + conv2d(x, dw): bilinear."""
    x, w = args
    dx, dw = dots
    return _plus(
        None if dx is None else call("conv2d", dx, w, **params),
        None if dw is None else call("conv2d", x, dw, **params),
    )


def conv2d_grad_input(dots, out, args, **params):
    """Bilinear in the upstream and the filters (the third argument: a shape)."""
    u, w, x = args
    du, dw, _ = dots
    return _plus(
        None if du is None else call("conv2d_grad_input", du, w, x, **params),
        None if dw is None else call("conv2d_grad_input", u, dw, x, **params),
    )


def conv2d_grad_filter(dots, out, args, **params):
    """Bilinear in the images and the upstream."""
    x, u = args
    dx, du = dots
    return _plus(
        None if dx is None else call("conv2d_grad_filter", dx, u, **params),
        None if du is None else call("conv2d_grad_filter", x, du, **params),
    )


def max_pool2d(dots, out, args, k=2):
    """The tangent at each window's maximum (ties averaged), like the reverse rule."""
    (dx,) = dots
    return None if dx is None else call("max_pool2d_tangent", dx, args[0], out, k=k)


def _pool_linear(prim: str) -> TangentFn:
    """A pooling gradient or tangent: linear in its first argument, the maxima's
    pattern locally constant."""

    def rule(dots, out, args, k=2):
        return None if dots[0] is None else call(prim, dots[0], *args[1:], k=k)

    return rule


max_pool2d_grad = _pool_linear("max_pool2d_grad")
max_pool2d_tangent = _pool_linear("max_pool2d_tangent")
avg_pool2d = _pool_linear("avg_pool2d")
avg_pool2d_grad = _pool_linear("avg_pool2d_grad")
