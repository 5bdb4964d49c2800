"""The reverse rules (vector-Jacobian products): one small function per primitive,
named after it; each primitive's record in :mod:`codegen.primitives` points at its rule.

Contract: a rule sees only the upstream gradient ``g`` (the gradient of the statement's
output), the statement's output ``out`` and its arguments ``args`` (names or constants).
It returns one contribution per argument: an expression for ``g * d(out)/d(arg)``, or
``None`` where the argument gets no gradient (a piecewise-constant primitive).  Rules use
the output where that is cheaper and stabler: exp' is its output, sigmoid' = s(1 - s),
tanh' = 1 - t**2, sqrt' = 0.5 / s.

Non-differentiable points follow a convention (matching PyTorch and JAX where they
agree): relu'(0) = 0, abs'(0) = 0, and ties of max/min split the gradient evenly among
the tied arguments.  The texts below are the records' conventions; a generated
module's header states those of the primitives its program applies.

``tests/test_rules.py`` checks that every primitive's record has a rule and that each
agrees with ``sympy.diff`` of its meaning.
"""

from __future__ import annotations

from collections.abc import Callable

from .einsum import gradient_spec, parse_spec
from .ir import Const, Expr, Op, Program, Var, call

Contribution = Expr | None
RuleFn = Callable[[Expr, Var, tuple[Expr, ...]], tuple[Contribution, ...]]

#: stated too where a power has a variable base and exponent (see ``pow``)
POW_CONVENTION = "a ** b at a = 0: the gradient in b is 0"
TIES = "max/min: ties split the gradient evenly among the tied arguments"


def variable_power(op: Op) -> bool:
    """``a ** b`` with a variable base and exponent: where :data:`POW_CONVENTION` applies."""
    return all(isinstance(a, Var) for a in op.args)


def add(g, out, args):
    return g, g


def sub(g, out, args):
    return g, -g


def mul(g, out, args):
    a, b = args
    return g * b, g * a


def div(g, out, args):
    a, b = args
    return g / b, -(g / b) * out  # reverse reuses the first for the second


def pow(g, out, args):
    """d(a**b)/db = a**b log(a); at a = 0 the log is taken of 1: 0**b is constant in b
    (b > 0), so its gradient there is 0, as in PyTorch and JAX (not 0 * -inf)."""
    a, b = args
    if isinstance(a, Const) and a.value == 0:
        return g * b * a ** (b - 1), None  # 0 ** b: constant 0 for b > 0
    if isinstance(a, Const):
        log_a = call("log", a)
    else:
        log_a = call("log", call("where", call("eq", a, Const.of(0)), Const.of(1), a))
    return g * b * a ** (b - 1), g * out * log_a


def neg(g, out, args):
    return (-g,)


def exp(g, out, args):
    return (g * out,)


def log(g, out, args):
    (a,) = args
    return (g / a,)


def sqrt(g, out, args):
    return (g * 0.5 / out,)


def sin(g, out, args):
    (a,) = args
    return (g * call("cos", a),)


def cos(g, out, args):
    (a,) = args
    return (-g * call("sin", a),)


def tan(g, out, args):
    return (g * (1 + out**2),)


def tanh(g, out, args):
    return (g * (1 - out**2),)


def sigmoid(g, out, args):
    return (g * out * (1 - out),)


def relu(g, out, args):
    return (call("where", call("gt", out, Const.of(0)), g, Const.of(0.0)),)


def abs(g, out, args):
    (a,) = args
    return (g * call("sign", a),)


def softplus(g, out, args):
    """softplus' = sigmoid(x) = 1 - exp(-out) = -expm1(-out): from the output, and
    accurate where sigmoid(x) is tiny (expm1 keeps its digits)."""
    return (-g * call("expm1", -out),)


def log_sigmoid(g, out, args):
    """log_sigmoid' = sigmoid(-x) = 1 - exp(out) = -expm1(out): 1 at x = -1000, and
    exp(-x) (not 0) for large x."""
    return (-g * call("expm1", out),)


def log1p(g, out, args):
    (a,) = args
    return (g / (1 + a),)


def expm1(g, out, args):
    """expm1' = exp(x), from the input: out + 1 would lose the digits of exp(x)
    for x < -1 (1 - 0.99999999999990 keeps three)."""
    (a,) = args
    return (g * call("exp", a),)


def logaddexp(g, out, args):
    """d/da = sigmoid(a - b), from the inputs: exp(a - out) would lose the output's
    low bits (at a = b = 1e15 it gives 0.47 for 1/2); the two shares sum to 1."""
    a, b = args
    return g * call("sigmoid", a - b), g * call("sigmoid", b - a)


def extremum(strict: str) -> RuleFn:
    """max (strict="gt") or min (strict="lt"): route to the winner, split ties evenly."""

    def rule(g, out, args):
        if len(args) == 2:
            a, b = args
            tie = 0.5 * call("eq", a, b)
            return g * (call(strict, a, b) + tie), g * (call(strict, b, a) + tie)
        # count the tied arguments as a float: 0.0 + (a == m) + (b == m) + ...
        # (a plain sum of NumPy booleans would be a logical or)
        ties: Expr = Const.of(0.0)
        for arg in args:
            ties = Op("add", (ties, call("eq", arg, out)))
        return tuple(g * call("eq", arg, out) / ties for arg in args)

    return rule


def flat(g, out, args, **params):
    """Piecewise-constant primitives: zero gradient everywhere it exists."""
    return tuple(None for _ in args)


def broadcast_like(g, out, args):
    return g, None


# --- arrays: linear algebra ----------------------------------------------------------


def matmul(g, out, args):
    a, b = args  # (N, D) @ (D, M)
    return call("matmul", g, call("transpose", b)), call(
        "matmul", call("transpose", a), g
    )


def matvec(g, out, args):
    a, v = args  # (N, D) @ (D,)
    return call("outer", g, v), call("matvec", call("transpose", a), g)


def vecmat(g, out, args):
    v, b = args  # (D,) @ (D, M)
    return call("matvec", b, g), call("outer", v, g)


def dot(g, out, args):
    a, b = args  # (D,) @ (D,)
    return g * b, g * a


def outer(g, out, args):
    a, b = args
    return call("matvec", g, b), call("vecmat", a, g)


def transpose(g, out, args):
    return (call("transpose", g),)


# --- arrays: reductions (``expand`` broadcasts a reduced gradient back) ---------------


def _restore(x, axis, keepdims):
    """A reduced value with its reduced axes put back as size 1, for broadcasting."""
    if keepdims or axis is None:
        return x
    return call("expand_dims", x, axis=axis)


def sum(g, out, args, axis=None, keepdims=False):
    (a,) = args
    return (call("expand", g, a, axis=axis, keepdims=keepdims),)


def mean(g, out, args, axis=None, keepdims=False):
    (a,) = args
    share = g / call("count", a, axis=axis)
    return (call("expand", share, a, axis=axis, keepdims=keepdims),)


def amax(g, out, args, axis=None, keepdims=False):
    (a,) = args
    hit = call("eq", a, _restore(out, axis, keepdims))
    ties = call("sum", hit, axis=axis, keepdims=True)
    return (_restore(g, axis, keepdims) * hit / ties,)


def norm(g, out, args, axis=None, keepdims=False):
    """norm' = a / out, taken as 0 where out = 0 (every element is 0 there: a / 1),
    the subgradient PyTorch uses, rather than 0 / 0."""
    (a,) = args
    size = _restore(out, axis, keepdims)
    safe = call("where", call("eq", size, Const.of(0)), Const.of(1), size)
    return (_restore(g, axis, keepdims) * a / safe,)


def squeeze(g, out, args, axis=None):
    return (_restore(g, axis, False) if axis is not None else g,)


def expand(g, out, args, axis=None, keepdims=False):
    return call("sum", g, axis=axis, keepdims=keepdims), None


def expand_dims(g, out, args, axis=None):
    return (call("sum", g, axis=axis),)


def reshape(g, out, args, shape=""):
    a, *dims = args
    return (call("reshape_like", g, a), *(None for _ in dims))


def reshape_like(g, out, args):
    a, like = args
    return call("reshape_like", g, a), None


# --- arrays: indexing and selection ------------------------------------------------


def gather(g, out, args):
    a, *index = args
    return (call("scatter_add", a, *index, g), *(None for _ in index))


def scatter_add(g, out, args):
    a, *index, value = args
    return (None, *(None for _ in index), call("gather", g, *index))


def slice(g, out, args, index=""):
    a, *sizes = args
    return (call("unslice", a, g, *sizes, index=index), *(None for _ in sizes))


def unslice(g, out, args, index=""):
    _, _, *sizes = args
    return (None, call("slice", g, *sizes, index=index), *(None for _ in sizes))


def copy(g, out, args):
    return (g,)


#: stated in the header of programs that use ``where`` (``header.py``: see
#: :func:`where_note`)
WHERE_CONVENTION = (
    "where(c, a, b): the branch that was not selected contributes exactly 0 to every "
    "gradient, even where its own derivative is inf or nan (where(x > 0, sqrt(x), 0) "
    "has gradient 0 at x = -1): the backward statements of values computed only for "
    "one branch are masked by the condition (where(c, ..., 0)). Elsewhere the math "
    "holds as written: sqrt(x) at x = 0 has gradient inf."
)


def where_note(program: Program) -> str | None:
    """:data:`WHERE_CONVENTION` if the forward program uses ``where``, else None."""
    for stmt in program.stmts:
        if isinstance(stmt.expr, Op) and stmt.expr.prim == "where":
            return WHERE_CONVENTION
    return None


def where(g, out, args):
    """Routes ``g`` to the selected branch.  This rule alone would not keep the
    other branch's gradient at 0 (0 times its inf or nan local derivative is nan):
    reverse mode masks the statements computed only for a branch, see
    :func:`codegen.reverse.branch_guards`."""
    cond, a, b = args
    zero = Const.of(0.0)
    return None, call("where", cond, g, zero), call("where", cond, zero, g)


# --- new axes, variance, joining: concatenate, stack and their parts ---------------


def concatenate(g, out, args, axis=0, sizes=()):
    """Each argument's gradient is its part of g along the axis: g[:, 0:3], g[:, 3:]."""
    return tuple(
        call("part", g, *args, axis=axis, which=k, sizes=sizes)
        for k in range(len(args))
    )


def stack(g, out, args, axis=0):
    """Each argument's gradient is its index along the new axis: g[:, 1]."""
    return tuple(call("part", g, *args, axis=axis, which=k) for k in range(len(args)))


def part(g, out, args, axis=0, which=0, sizes=None):
    """The adjoint of taking a part: g joined with zeros for the other parts."""
    _, *joined = args
    pieces = tuple(
        g if k == which else call("zeros_like", arg) for k, arg in enumerate(joined)
    )
    if sizes is None:
        return (call("stack", *pieces, axis=axis), *(None for _ in joined))
    return (
        call("concatenate", *pieces, axis=axis, sizes=sizes),
        *(None for _ in joined),
    )


# --- batched linear algebra and einsum ---------------------------------------------
# (a batched product's contributions are shaped like its result's batch axes; reverse
# mode sums them back over the batch axes an argument was broadcast along, see the
# record's ``core_rank``)


def bmatmul(g, out, args):
    a, b = args  # (..., N, D) @ (..., D, M)
    return (
        call("bmatmul", g, call("swapaxes", b, axes=(-1, -2))),
        call("bmatmul", call("swapaxes", a, axes=(-1, -2)), g),
    )


def swapaxes(g, out, args, axes=(-1, -2)):
    return (call("swapaxes", g, axes=axes),)


def permute(g, out, args, axes=()):
    inverse = [0] * len(axes)
    for k, axis in enumerate(axes):
        inverse[axis] = k
    return (call("permute", g, axes=tuple(inverse)),)


def einsum(g, out, args, spec=""):
    """Operand k's gradient is an einsum of ``g`` and the other operands; the axes of
    letters only operand k has (summed out) are broadcast back."""
    parsed = parse_spec(spec)
    contributions = []
    for k, arg in enumerate(args):
        others = tuple(a for j, a in enumerate(args) if j != k)
        grad = gradient_spec(parsed, k)
        value: Expr = call("einsum", g, *others, spec=grad.spec)
        if grad.missing:
            axis = grad.missing[0] if len(grad.missing) == 1 else grad.missing
            value = call("expand", value, arg, axis=axis, keepdims=False)
        contributions.append(value)
    return tuple(contributions)


# --- convolution and pooling ---------------------------------------------------------
# (params: conv2d's stride, padding and kernel (KH, KW); a pooling's k.  The gradient
# primitives are linear in their upstream gradient, so their own rules close the set)

#: max_pool2d at ties, consistent with max: stated in the header of a module using it
MAX_POOL_TIES = (
    "max_pool2d: the gradient goes to each window's maximum, split evenly among tied "
    "elements (as max; PyTorch's max_pool2d routes it to one of them)"
)


def conv2d(g, out, args, **params):
    """Bilinear: the transposed convolution for x, the windows times g for w."""
    x, w = args
    return (
        call("conv2d_grad_input", g, w, x, **params),
        call("conv2d_grad_filter", x, g, **params),
    )


def conv2d_grad_input(g, out, args, **params):
    """``dx = T(u, w)`` (u the upstream of conv2d): <g, dx> = <conv2d(g, w), u>, and in
    w <g, T(u, w)> = <grad_filter(g, u), w>."""
    u, w, _ = args
    return (
        call("conv2d", g, w, **params),
        call("conv2d_grad_filter", g, u, **params),
        None,
    )


def conv2d_grad_filter(g, out, args, **params):
    """``dw = G(x, u)``: in x the transposed convolution of u with g, in u conv2d."""
    x, u = args
    return (
        call("conv2d_grad_input", u, g, x, **params),
        call("conv2d", x, g, **params),
    )


def max_pool2d(g, out, args, k=2):
    (x,) = args
    return (call("max_pool2d_grad", g, x, out, k=k),)


def max_pool2d_grad(g, out, args, k=2):
    """Linear in the upstream (the pattern of maxima is locally constant)."""
    _, x, pooled = args
    return call("max_pool2d_tangent", g, x, pooled, k=k), None, None


def max_pool2d_tangent(g, out, args, k=2):
    _, x, pooled = args
    return call("max_pool2d_grad", g, x, pooled, k=k), None, None


def avg_pool2d(g, out, args, k=2):
    (x,) = args
    return (call("avg_pool2d_grad", g, x, k=k),)


def avg_pool2d_grad(g, out, args, k=2):
    return call("avg_pool2d", g, k=k), None
