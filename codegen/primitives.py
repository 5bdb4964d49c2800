"""The primitives of the flat-program IR: one :class:`Primitive` record each, the one
place that states everything the generator knows about a primitive.

A record gives its name and arity, the user signature when a program may call it by
name, its meaning (the SymPy function used to fold constants and as the test oracle),
its shape rule (:mod:`codegen.shapes`), its reverse rule with the gate text
(:mod:`codegen.reverse_rules`), its tangent rule (:mod:`codegen.tangent_rules`), its convention at
non-differentiable points, and its traits.  Every trait set a stage reads is derived
from the records below (``ELEMENTWISE``, ``VIEWS``, ...); no stage keeps its own list
of primitive names.  A backend is a printer table over the records
(:mod:`codegen.printing`), each checked complete by ``tests/test_printing.py``.

Adding a primitive (``erf``, say) is one record here, whose reverse and tangent rules
are a small function each in :mod:`codegen.reverse_rules` and :mod:`codegen.tangent_rules`, and one
printer entry per backend that can print it.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import sympy

from . import conv_shapes, shapes
from . import reverse_rules as vjp
from . import tangent_rules as jvp
from .errors import MissingRuleError
from .ir import Const, Expr, Op, Var

VARIADIC = -1
MAX_EXTREMUM_ARGS = 32


class Signature(NamedTuple):
    """How a program calls a function: fewest and most arguments (None: no bound)
    and the keywords it takes."""

    low: int
    high: int | None
    keywords: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Convention:
    """What a rule does at a point where the math gives no derivative: ``text`` goes
    into the header of every module whose forward program applies the primitive (to
    arguments for which ``when`` holds, if given)."""

    text: str
    when: Callable[[Op], bool] | None = None


@dataclass(frozen=True)
class Primitive:
    """Everything the generator knows about one primitive."""

    name: str
    #: number of arguments (VARIADIC: a variable number; two or more for max and min,
    #: an array and then the dimension variables its params name for reshape, slice
    #: and unslice)
    arity: int
    #: the shape rule: argument types, params, site -> the result's type
    shape: shapes.ShapeRule
    #: the reverse rule (see :mod:`codegen.reverse_rules`) and how its gate treats the gradient
    vjp: vjp.RuleFn
    #: the tangent rule (see :mod:`codegen.tangent_rules`)
    jvp: jvp.TangentFn
    gate: str = ""
    #: what it computes, as SymPy (None: an array primitive, whose meaning involves
    #: shapes; checked by finite differences and the dot-product test instead)
    meaning: Callable[..., sympy.Expr] | None = None
    #: how a program calls it by name (None: made by lowerings and derivative code)
    user: Signature | None = None
    convention: Convention | None = None
    #: the result's dtype: "promote" (float if an argument is), "float" or "bool"
    dtype: str = "promote"
    #: applies position by position, broadcasting (its gradient is un-broadcast)
    elementwise: bool = False
    #: its contributions are 0 wherever the gradient reaching it is 0, whatever its
    #: arguments (a ``where`` branch's statement of it needs no mask)
    zero_preserving: bool = False
    #: a sum of its arguments: its tangent can be narrower than its value
    sums: bool = False
    #: at constants SymPy may keep it symbolic (exp(1000), log(0)): checked
    #: numerically when folding, so no module computes inf or nan on every call
    numeric_at_constants: bool = False
    #: non-differentiable at points (relu and abs at 0, ties of max and min): the
    #: finite-difference oracle keeps its samples away from them
    kinked: bool = False
    #: the result may be a view of the first argument's array (numpy, torch)
    view: bool = False
    #: passes an integer array's values on, so an index stays one
    index_preserving: bool = False
    #: printed as statements of its own that build a fresh array
    own_statement: bool = False
    #: the value is a plain Python number (a size), not an array
    number: bool = False
    #: makes an array from numbers
    from_numbers: bool = False
    #: broadcasts its arguments' leading (batch) axes before their last ``core_rank``
    #: (batched ``@``: 2): reverse mode sums each contribution back over the batch
    #: axes its argument was broadcast along
    core_rank: int = 0

    @property
    def array(self) -> bool:
        """Its meaning involves shapes (no SymPy meaning)."""
        return self.meaning is None

    @property
    def no_gradient(self) -> bool:
        """Piecewise constant, or a stability shift whose gradient cancels: reverse
        mode skips it."""
        return self.vjp is vjp.flat


def _piecewise(cond: sympy.Basic) -> sympy.Expr:
    return sympy.Piecewise((sympy.Integer(1), cond), (sympy.Integer(0), True))


def _math(
    name: str,
    meaning: Callable[..., sympy.Expr],
    gate: str = "",
    arity: int = 1,
    **traits: object,
) -> Primitive:
    """An elementwise float function a program calls by name: ``exp(x)``."""
    return Primitive(
        name,
        arity,
        shapes.elementwise,
        getattr(vjp, name),
        getattr(jvp, name),
        gate,
        meaning,
        Signature(arity, arity),
        dtype="float",
        elementwise=True,
        numeric_at_constants=True,
        **traits,  # type: ignore[arg-type]
    )


def _operator(
    name: str, meaning: Callable[..., sympy.Expr], gate: str = "", **traits: object
) -> Primitive:
    """An elementwise operator (``+``, ``<``, ...) or derivative-code function."""
    arity = traits.pop("arity", 2)
    return Primitive(
        name,
        arity,  # type: ignore[arg-type]
        shapes.elementwise,
        getattr(vjp, name, vjp.flat),
        getattr(jvp, name, jvp.zero),
        gate,
        meaning,
        elementwise=True,
        **traits,  # type: ignore[arg-type]
    )


def _compare(name: str, relation: Callable[..., sympy.Basic]) -> Primitive:
    return _operator(name, lambda a, b: _piecewise(relation(a, b)), dtype="bool")


def _array(
    name: str,
    arity: int,
    shape: shapes.ShapeRule,
    gate: str = "",
    tangent: jvp.TangentFn | None = None,
    rule: vjp.RuleFn | None = None,
    **traits: object,
) -> Primitive:
    """An array primitive: its meaning involves shapes.  Its rules are the functions
    named after it (no rule: piecewise constant) unless given."""
    return Primitive(
        name,
        arity,
        shape,
        rule or getattr(vjp, name, vjp.flat),
        tangent or getattr(jvp, name, jvp.zero),
        gate,
        **traits,  # type: ignore[arg-type]
    )


_AXIS = frozenset({"axis", "keepdims"})
_TIES = Convention(vjp.TIES)
_MAX_GATE = "max gate: routes the gradient to the larger input"
_MIN_GATE = "min gate: routes the gradient to the smaller input"

# fmt: off
_RECORDS = (
    # --- operators --------------------------------------------------------------------
    _operator(
        "add", lambda a, b: a + b, "add gate: distributes the gradient",
        zero_preserving=True, sums=True,
    ),
    _operator(
        "sub", lambda a, b: a - b,
        "sub gate: distributes the gradient, negated for the right side",
        zero_preserving=True, sums=True,
    ),
    _operator("mul", lambda a, b: a * b, "mul gate: swaps the inputs"),
    _operator("div", lambda a, b: a / b, dtype="float"),
    _operator(
        "pow", lambda a, b: a**b,
        convention=Convention(vjp.POW_CONVENTION, when=vjp.variable_power),
    ),
    _operator("neg", lambda a: -a, arity=1, zero_preserving=True),
    # --- functions ----------------------------------------------------------------------
    _math("exp", sympy.exp, "exp' reuses the output"),
    _math("log", sympy.log),
    _math("sqrt", sympy.sqrt, "sqrt' = 0.5 / output"),
    _math("sin", sympy.sin),
    _math("cos", sympy.cos),
    _math("tan", sympy.tan, "tan' = 1 + output**2"),
    _math("tanh", sympy.tanh, "tanh' = 1 - output**2"),
    _math(
        "sigmoid", lambda a: 1 / (1 + sympy.exp(-a)),
        "sigmoid' = output * (1 - output)",
    ),
    Primitive(
        "relu", 1, shapes.elementwise, vjp.relu, jvp.relu,
        "relu gate: passes the gradient where the output is > 0",
        lambda a: sympy.Max(0, a), Signature(1, 1),
        Convention("relu'(0) = 0 (relu(x) and maximum(0, x))"),
        elementwise=True, zero_preserving=True, kinked=True,
    ),
    Primitive(
        "abs", 1, shapes.elementwise, vjp.abs, jvp.abs, "abs' = sign(input), 0 at 0",
        sympy.Abs, Signature(1, 1), Convention("abs'(0) = 0"),
        elementwise=True, kinked=True,
    ),
    # stable primitives: no overflow or cancellation across float64's range
    _math(
        "softplus", lambda a: sympy.log(1 + sympy.exp(a)),
        "softplus' = sigmoid(input) = -expm1(-output)",
    ),
    _math(
        "log_sigmoid", lambda a: -sympy.log(1 + sympy.exp(-a)),
        "log_sigmoid' = sigmoid(-input) = -expm1(output)",
    ),
    _math("log1p", lambda a: sympy.log(1 + a)),
    _math("expm1", lambda a: sympy.exp(a) - 1, "expm1' = exp(input)"),
    _math(
        "logaddexp", lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)),
        "logaddexp' = sigmoid(input - other input)", arity=2,
    ),
    # n-ary max/min: each argument's gradient counts the ties among all n (n**2 terms
    # in all), so n is capped; nest them for more: max(max(...), ...)
    Primitive(
        "max", VARIADIC, shapes.elementwise, vjp.extremum("gt"),
        jvp.extremum("gt"), _MAX_GATE, sympy.Max,
        Signature(1, MAX_EXTREMUM_ARGS, _AXIS), _TIES, elementwise=True, kinked=True,
    ),
    Primitive(
        "min", VARIADIC, shapes.elementwise, vjp.extremum("lt"),
        jvp.extremum("lt"), _MIN_GATE, sympy.Min,
        Signature(1, MAX_EXTREMUM_ARGS, _AXIS), _TIES, elementwise=True, kinked=True,
    ),
    Primitive(
        "where", 3, shapes.where, vjp.where, jvp.where,
        "where: routes the gradient to the chosen side",
        lambda c, a, b: sympy.Piecewise((a, sympy.Ne(c, 0)), (b, True)),
        Signature(3, 3), elementwise=True, zero_preserving=True,
    ),
    # --- comparisons and derivative-code helpers: piecewise constant -----------------
    _compare("gt", sympy.StrictGreaterThan),
    _compare("lt", sympy.StrictLessThan),
    _compare("eq", sympy.Eq),
    _compare("ge", sympy.GreaterThan),
    _compare("le", sympy.LessThan),
    _compare("ne", sympy.Ne),
    _operator("sign", sympy.sign, arity=1),
    Primitive(
        "zeros_like", 1, shapes.float_like, vjp.flat, jvp.zero,
        meaning=lambda a: sympy.Integer(0),
    ),
    Primitive(  # a fresh array with the same values
        "copy", 1, shapes.same, vjp.copy, jvp.first, meaning=lambda a: a,
        index_preserving=True,
    ),
    Primitive(
        "broadcast_like", 2, shapes.broadcast_like, vjp.broadcast_like,
        jvp.broadcast_like, meaning=lambda a, b: a,
    ),
    Primitive(  # a number: float(x)
        "as_float", 1, shapes.as_float, vjp.copy, jvp.first, meaning=lambda a: a,
    ),
    # --- arrays: linear algebra ------------------------------------------------------
    _array("matmul", 2, shapes.matmul, "matmul: dA = dOut @ B.T, dB = A.T @ dOut"),
    _array(
        "matvec", 2, shapes.matmul,
        "matrix @ vector: dA = outer(dOut, v), dv = A.T @ dOut",
        tangent=jvp.bilinear("matvec"),
    ),
    _array(
        "vecmat", 2, shapes.matmul,
        "vector @ matrix: dv = B @ dOut, dB = outer(v, dOut)",
        tangent=jvp.bilinear("vecmat"),
    ),
    _array(
        "dot", 2, shapes.matmul, "dot product: swaps the inputs",
        tangent=jvp.bilinear("dot"),
    ),
    _array("outer", 2, shapes.outer, tangent=jvp.bilinear("outer")),
    _array(
        "transpose", 1, shapes.transpose, tangent=jvp.linear("transpose"),
        user=Signature(1, 2), view=True, index_preserving=True,
    ),
    # --- batched linear algebra and einsum (issue 18) ---
    _array(
        "bmatmul", 2, shapes.bmatmul,
        "batched matmul: dA = dOut @ B.mT, dB = A.mT @ dOut (summed over broadcast "
        "batch axes)",
        tangent=jvp.bilinear("bmatmul"), core_rank=2,
    ),
    _array(  # swapaxes(a, i, j) and a.mT (params: axes=(i, j))
        "swapaxes", 1, shapes.swapaxes, "swapaxes: swaps the gradient's axes back",
        tangent=jvp.linear("swapaxes"), user=Signature(3, 3), view=True,
        index_preserving=True,
    ),
    _array(  # transpose(a, axes) (params: axes, a permutation)
        "permute", 1, shapes.permute,
        "transpose: the gradient goes through the inverse permutation",
        tangent=jvp.linear("permute"), view=True, index_preserving=True,
    ),
    _array(  # einsum("bqhe,bkhe->bhqk", Q, K) (params: spec)
        "einsum", VARIADIC, shapes.einsum,
        "einsum: each operand's gradient is an einsum of dOut and the others",
        user=Signature(2, None),
    ),
    # --- arrays: reductions (``expand`` broadcasts a reduced gradient back) ----------
    _array(
        "sum", 1, shapes.reduction,
        "sum: copies the gradient back over the summed axes",
        tangent=jvp.linear("sum"), user=Signature(1, 1, _AXIS),
    ),
    _array(
        "mean", 1, shapes.reduction,
        "mean: shares the gradient evenly over the averaged axes",
        user=Signature(1, 1, _AXIS), dtype="float",
    ),
    _array(
        "amax", 1, shapes.reduction,
        "max: routes the gradient to the maximum (ties split evenly)",
        convention=_TIES,
    ),
    _array(
        "amin", 1, shapes.reduction,
        "min: routes the gradient to the minimum (ties split evenly)",
        convention=_TIES, rule=vjp.amax, tangent=jvp.amax,
    ),
    # the max-shift of a stable logsumexp: its gradient cancels
    _array("shift", 1, shapes.shift),
    _array(
        "norm", 1, shapes.reduction, "norm' = input / output (0 where the norm is 0)",
        user=Signature(1, 1, _AXIS), dtype="float",
        convention=Convention(
            "norm(a) (and sqrt(sum(a * a)), computed as norm(a)) at a = 0: "
            "gradient 0, the subgradient PyTorch uses"
        ),
    ),
    # --- arrays: layout ------------------------------------------------------------------
    _array(
        "squeeze", 1, shapes.squeeze, tangent=jvp.linear("squeeze"), view=True,
        index_preserving=True,
    ),
    _array("expand", 2, shapes.expand),
    _array(
        "expand_dims", 1, shapes.expand_dims, tangent=jvp.linear("expand_dims"),
        view=True, index_preserving=True,
    ),
    _array(  # reshape(a, N, 1)
        "reshape", VARIADIC, shapes.reshape, tangent=jvp.linear("reshape"),
        user=Signature(2, None), view=True, index_preserving=True,
    ),
    # a.reshape(like.shape): the adjoint of reshape
    _array("reshape_like", 2, shapes.reshape_like, view=True),
    # np.broadcast_to(g, like.shape): g checked against a shape; the declared type of
    # df is f's shape, so g passes as is
    Primitive(
        "broadcast_to", 2, shapes.broadcast_to, vjp.broadcast_like, jvp.broadcast_to
    ),
    # how many elements a reduction over ``axis`` combines
    _array("count", 1, shapes.integer, number=True),
    # --- new axes, variance, joining (issue 18) -----------------------------------------
    # concatenate([a, b], axis=k) and stack([a, b], axis=k) (params: axis, a
    # non-negative int; concatenate's sizes, each argument's size along the axis)
    _array(
        "concatenate", VARIADIC, shapes.concatenate,
        "concatenate: each input's gradient is its part of the gradient",
        user=Signature(1, 1, frozenset({"axis"})),
    ),
    _array(
        "stack", VARIADIC, shapes.stack,
        "stack: each input's gradient is its part of the gradient",
        user=Signature(1, 1, frozenset({"axis"})),
    ),
    # part(g, a, b, ..., axis, which, sizes): argument ``which``'s part of g, the
    # gradient of a concatenate (with sizes) or a stack (without): g[:, 3:7], g[:, 1]
    _array("part", VARIADIC, shapes.part, view=True),
    # --- arrays: indexing and selection -------------------------------------------
    _array("gather", VARIADIC, shapes.gather, "gather: scatter-adds the gradient back"),
    _array("scatter_add", VARIADIC, shapes.float_like, own_statement=True),
    _array(  # a[1:3, 0], a[:, H:2*H]: static basic indexing (params: index text; the
        # arguments after the array: the dimension variables the index names)
        "slice", VARIADIC, shapes.static_slice,
        "slice: the gradient goes back into the sliced places",
        tangent=jvp.linear("slice"),
    ),
    # zeros like arg 1 with arg 2 written at the index: slice's adjoint (then the
    # dimension variables the index names)
    _array("unslice", VARIADIC, shapes.float_like, own_statement=True),
    _array(
        "arange", 1, shapes.arange, user=Signature(1, 1), from_numbers=True
    ),
    _array("dim", 1, shapes.integer, number=True),  # a.shape[k]
    # --- convolution and pooling ---------------------------------------------------
    # conv2d(x, w, stride=1, padding=0) (params: stride, padding, kernel=(KH, KW));
    # max_pool2d(x, k) and avg_pool2d(x, k) (params: k; windows k by k, stride k)
    _array(
        "conv2d", 2, conv_shapes.conv2d,
        "conv2d: dx = the transposed convolution of dOut with w, dw = dOut times "
        "x's windows (im2col)",
        user=Signature(2, 2, frozenset({"stride", "padding"})), dtype="float",
    ),
    # conv2d's gradient in x: (dOut, w, x), x read for its shape
    _array("conv2d_grad_input", 3, conv_shapes.conv2d_grad_input),
    # conv2d's gradient in w: (x, dOut)
    _array("conv2d_grad_filter", 2, conv_shapes.conv2d_grad_filter),
    _array(
        "max_pool2d", 1, conv_shapes.pool2d,
        "max_pool2d: routes the gradient to each window's maximum (ties split evenly)",
        user=Signature(2, 2), convention=Convention(vjp.MAX_POOL_TIES), kinked=True,
        dtype="float",
    ),
    # (dOut, x, out): max_pool2d's gradient; (dx, x, out): its tangent
    _array("max_pool2d_grad", 3, conv_shapes.pool2d_grad),
    _array("max_pool2d_tangent", 3, conv_shapes.max_pool2d_tangent),
    _array(
        "avg_pool2d", 1, conv_shapes.pool2d,
        "avg_pool2d: shares the gradient evenly over each window",
        user=Signature(2, 2), dtype="float",
    ),
    # (dOut, x): avg_pool2d's gradient, x read for its shape
    _array("avg_pool2d_grad", 2, conv_shapes.pool2d_grad),
)
# fmt: on

#: name -> record, in the order above
PRIMITIVES: Mapping[str, Primitive] = MappingProxyType({p.name: p for p in _RECORDS})

#: functions a program calls that lower to several primitives (see
#: :mod:`codegen.lowerings`); ``grad(y, x)`` is the gradient of an earlier scalar value
#: y with respect to input x, written out by :mod:`codegen.grad_pass`
COMPOSITES: Mapping[str, Signature] = MappingProxyType(
    {
        "maximum": Signature(2, 2),
        "minimum": Signature(2, 2),
        "logsumexp": Signature(1, 1, _AXIS),
        "softmax": Signature(1, 1, frozenset({"axis"})),
        "log_softmax": Signature(1, 1, frozenset({"axis"})),
        "grad": Signature(2, 2),
        # population variance and standard deviation (ddof 0)
        "var": Signature(1, 1, _AXIS),
        "std": Signature(1, 1, _AXIS),
    }
)


def _names(test: Callable[[Primitive], bool]) -> frozenset[str]:
    return frozenset(p.name for p in _RECORDS if test(p))


#: functions a user may call: name -> (fewest args, most args or None, keywords)
FUNCTIONS: Mapping[str, Signature] = MappingProxyType(
    {**{p.name: p.user for p in _RECORDS if p.user is not None}, **COMPOSITES}
)
ARITY: Mapping[str, int] = MappingProxyType({p.name: p.arity for p in _RECORDS})
ARRAY_PRIMITIVES = _names(lambda p: p.array)
ELEMENTWISE = _names(lambda p: p.elementwise)
COMPARISONS = _names(lambda p: p.dtype == "bool")
NO_GRADIENT = _names(lambda p: p.no_gradient)
ZERO_PRESERVING = _names(lambda p: p.zero_preserving)
SUMS = _names(lambda p: p.sums)
NUMERIC_AT_CONSTANTS = _names(lambda p: p.numeric_at_constants)
KINKED = _names(lambda p: p.kinked)
VIEWS = _names(lambda p: p.view)
INDEX_PRESERVING = _names(lambda p: p.index_preserving)
OWN_STATEMENT = _names(lambda p: p.own_statement)
NUMBERS = _names(lambda p: p.number)
FROM_NUMBERS = _names(lambda p: p.from_numbers)
#: primitive -> its core rank (see :attr:`Primitive.core_rank`), where it has one
CORE_RANK: Mapping[str, int] = MappingProxyType(
    {p.name: p.core_rank for p in _RECORDS if p.core_rank}
)
#: primitive -> its convention, in record order (a header states them in this order)
CONVENTIONS: Mapping[str, Convention] = MappingProxyType(
    {p.name: p.convention for p in _RECORDS if p.convention is not None}
)


def plain_number(expr: Expr, numbers: Container[str]) -> bool:
    """Whether ``expr`` is a plain Python number: a constant, a size, or computed from
    those alone (``numbers`` are the names known to hold one); an array made from
    numbers (``arange``) is not."""
    if isinstance(expr, Const):
        return True
    if isinstance(expr, Var):
        return expr.name in numbers
    if expr.prim in NUMBERS:
        return True
    return expr.prim not in FROM_NUMBERS and all(
        plain_number(a, numbers) for a in expr.args
    )


def primitive(name: str) -> Primitive:
    """The record of ``name``, or a :class:`MissingRuleError` naming it."""
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise MissingRuleError(
            f"no record for primitive '{name}'; add one to codegen/primitives.py"
        ) from None


# --- new axes, variance, joining -----------------------------------------------------

#: functions whose one argument is a list of arrays: concatenate([a, b], axis=1)
JOINS = _names(lambda p: p.shape in (shapes.concatenate, shapes.stack))
