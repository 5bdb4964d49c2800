"""Every derivative rule agrees with sympy.diff of its primitive's meaning, and the
conventions at non-differentiable points hold in generated code."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest
import sympy
from conftest import BACKENDS, load, options
from oracles import grads_tuple, symbolic_close, sympy_at

from codegen.generate import generate
from codegen.ir import Var
from codegen.primitives import ARITY, ARRAY_PRIMITIVES, PRIMITIVES, VARIADIC
from codegen.reverse_rules import POW_CONVENTION
from codegen.symbolic import expr_to_sympy

#: primitive -> its SymPy meaning, for those that have one (the scalar ones)
SYMPY = {p.name: p.meaning for p in PRIMITIVES.values() if p.meaning is not None}

POINTS_PER_RULE = 6

Sampler = Callable[[random.Random, int], list[float]]


def _uniform(low: float, high: float) -> Sampler:
    return lambda rng, n: [rng.uniform(low, high) for _ in range(n)]


def _signed(low: float, high: float) -> Sampler:
    """Values with |v| in [low, high] and a random sign: away from 0."""
    return lambda rng, n: [
        rng.choice((-1, 1)) * rng.uniform(low, high) for _ in range(n)
    ]


def _distinct(rng: random.Random, n: int) -> list[float]:
    """n values at least 0.1 apart (away from ties)."""
    while True:
        values = [rng.uniform(-3.0, 3.0) for _ in range(n)]
        if all(abs(a - b) > 0.1 for i, a in enumerate(values) for b in values[i + 1 :]):
            return values


def _div(rng: random.Random, n: int) -> list[float]:
    return [rng.uniform(-3.0, 3.0), *_signed(0.2, 3.0)(rng, 1)]


def _pow(rng: random.Random, n: int) -> list[float]:
    return [rng.uniform(0.2, 3.0), rng.uniform(-2.5, 2.5)]


#: where each primitive is differentiable (and defined for real arguments)
DOMAINS: dict[str, Sampler] = {
    "log": _uniform(0.1, 5.0),
    "sqrt": _uniform(0.1, 5.0),
    "pow": _pow,
    "div": _div,
    "tan": _uniform(-1.3, 1.3),
    "relu": _signed(0.05, 3.0),
    "abs": _signed(0.05, 3.0),
    "sign": _signed(0.05, 3.0),
    "max": _distinct,
    "min": _distinct,
    "gt": _distinct,
    "lt": _distinct,
    "eq": _distinct,
    "ge": _distinct,
    "le": _distinct,
    "ne": _distinct,
    "where": _signed(0.05, 3.0),
    "log1p": _uniform(-0.9, 5.0),
    # the stable primitives, far into their tails too
    "softplus": _uniform(-30.0, 30.0),
    "log_sigmoid": _uniform(-30.0, 30.0),
    "logaddexp": _uniform(-30.0, 30.0),
}

#: the scalar primitives of issue 2: operators and the functions a user may call
SCALAR_PRIMITIVES = (
    "add sub mul div pow neg exp log sqrt sin cos tan tanh sigmoid relu abs max min"
).split()


def _arities(prim: str) -> list[int]:
    return [2, 3] if ARITY[prim] == VARIADIC else [ARITY[prim]]


#: every primitive with a scalar meaning in SYMPY is checked against sympy.diff
CASES = [(prim, n) for prim in sorted(SYMPY) for n in _arities(prim)]


def test_every_primitive_has_a_rule() -> None:
    for record in PRIMITIVES.values():
        assert callable(record.vjp), record.name
        assert callable(record.jvp), record.name
        assert callable(record.shape), record.name


def test_scalar_primitives_have_a_meaning_and_a_rule() -> None:
    assert set(SCALAR_PRIMITIVES) <= set(SYMPY)
    assert set(SCALAR_PRIMITIVES) <= set(ARITY)
    assert set(SYMPY) <= set(ARITY)


def test_every_primitive_is_checked_by_an_oracle() -> None:
    """Scalar meanings are checked here against sympy.diff; the shape primitives by
    finite differences and the dot-product test in tests/test_arrays_*.py."""
    assert set(ARITY) == set(SYMPY) | ARRAY_PRIMITIVES
    assert not set(SYMPY) & ARRAY_PRIMITIVES


def test_max_and_min_take_two_or_more_arguments() -> None:
    assert ARITY["max"] == ARITY["min"] == VARIADIC


@pytest.mark.parametrize(("prim", "n"), CASES, ids=[f"{p}-{n}" for p, n in CASES])
def test_rule_matches_sympy_diff(prim: str, n: int) -> None:
    g = sympy.Symbol("g", real=True)
    args = [sympy.Symbol(f"a{i}", real=True) for i in range(n)]
    out = SYMPY[prim](*args)
    env: dict[str, sympy.Expr] = {"g": g, "out": out}
    env.update({f"a{i}": a for i, a in enumerate(args)})
    contributions = PRIMITIVES[prim].vjp(
        Var("g"), Var("out"), tuple(Var(f"a{i}") for i in range(n))
    )
    assert len(contributions) == n
    rng = random.Random(f"{prim}-{n}")
    sampler = DOMAINS.get(prim, _uniform(-3.0, 3.0))
    for _ in range(POINTS_PER_RULE):
        values = sampler(rng, n)
        subs = {g: rng.uniform(-2.0, 2.0)}
        subs.update(zip(args, values, strict=True))
        for arg, contribution in zip(args, contributions, strict=True):
            want = sympy_at(g * sympy.diff(out, arg), subs)
            if contribution is None:  # "no gradient": the derivative must be 0 here
                assert want == 0.0, (prim, arg, values)
                continue
            got = sympy_at(expr_to_sympy(contribution, env), subs)
            assert symbolic_close(got, want), (prim, arg, values, got, want)


# --- conventions at the kinks, in generated code ----------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("upstream", [1.0, 3.0])
def test_relu_derivative_at_zero_is_zero(backend: str, upstream: float) -> None:
    module = load("relu(x)", options(backend))
    value, grads = module.forward_backward(0.0, upstream)
    assert float(value) == 0.0
    assert grads_tuple(grads) == (0.0,)
    # and the one-sided values either side of the kink
    assert grads_tuple(module.forward_backward(1e-9, upstream)[1]) == (upstream,)
    assert grads_tuple(module.forward_backward(-1e-9, upstream)[1]) == (0.0,)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("upstream", [1.0, 3.0])
def test_abs_derivative_at_zero_is_zero(backend: str, upstream: float) -> None:
    module = load("abs(x)", options(backend))
    value, grads = module.forward_backward(0.0, upstream)
    assert float(value) == 0.0
    assert grads_tuple(grads) == (0.0,)
    assert grads_tuple(module.forward_backward(1e-9, upstream)[1]) == (upstream,)
    assert grads_tuple(module.forward_backward(-1e-9, upstream)[1]) == (-upstream,)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("y", [1.0, 2.0, 3.5])
def test_pow_gradient_in_the_exponent_at_a_zero_base(backend: str, y: float) -> None:
    """0**y is 0 for every y > 0, so d/dy is 0 there (PyTorch and JAX agree), not
    0 * log(0); d/dx is y * 0**(y - 1): 1 for y = 1, 0 for y > 1."""
    module = load("x ** y", options(backend))
    value, (dx, dy) = module.forward_backward(0.0, y)
    assert float(value) == 0.0
    assert float(dy) == 0.0
    assert float(dx) == (1.0 if y == 1 else 0.0)
    # next to the base 0 the gradient in y is the usual f * log(x), continuous to 0
    h = 1e-12
    _, (_, dy_near) = module.forward_backward(h, y)
    assert float(dy_near) == pytest.approx(h**y * math.log(h), rel=1e-12)


@pytest.mark.parametrize(
    ("source", "stated"),
    [
        ("x ** y", True),
        ("a = x + 1; f = a ** y", True),
        ("x ** 2", False),
        ("2 ** y", False),
    ],
)
def test_the_header_states_the_zero_base_convention_where_it_applies(
    source: str, stated: bool
) -> None:
    header = generate(source, options("math")).split('"""', 2)[1]
    assert (POW_CONVENTION in " ".join(header.split())) == stated


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_to_a_variable_power_has_gradient_zero(backend: str) -> None:
    module = load("0 ** x * y + x * 0", options(backend))
    _, grads = module.forward_backward(2.0, 3.0)
    assert grads_tuple(grads) == (0.0, 0.0)


TIES = [
    # (function, point, winners): the tied winners share the gradient evenly
    ("max", (2.0, 2.0), (0, 1)),
    ("min", (-1.5, -1.5), (0, 1)),
    ("max", (1.0, 1.0, 1.0), (0, 1, 2)),
    ("min", (1.0, 1.0, 1.0), (0, 1, 2)),
    ("max", (3.0, 0.5, 3.0), (0, 2)),
    ("min", (0.5, 3.0, 0.5), (0, 2)),
    ("max", (0.25, 4.0, 4.0, -1.0), (1, 2)),
    ("min", (-2.0, 4.0, -2.0, -2.0), (0, 2, 3)),
    ("max", (1.0, 2.0, 3.0), (2,)),
    ("min", (1.0, 2.0, 3.0), (0,)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("fn", "point", "winners"), TIES)
def test_extremum_ties_split_evenly(
    backend: str, fn: str, point: tuple[float, ...], winners: tuple[int, ...]
) -> None:
    names = [f"x{i}" for i in range(len(point))]
    module = load(f"{fn}({', '.join(names)})", options(backend))
    upstream = 3.0
    value, grads = module.forward_backward(*point, upstream)
    assert float(value) == (max if fn == "max" else min)(point)
    share = upstream / len(winners)
    want = tuple(share if i in winners else 0.0 for i in range(len(point)))
    assert grads_tuple(grads) == pytest.approx(want, rel=1e-15, abs=0.0)
    assert sum(grads_tuple(grads)) == pytest.approx(upstream, rel=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_kink_inside_an_expression(backend: str) -> None:
    # relu(x - y) at x == y sits on the kink: the convention gives 0 to both
    module = load("relu(x - y)", options(backend))
    assert grads_tuple(module.forward_backward(1.5, 1.5)[1]) == (0.0, 0.0)
