"""The oracles (tests/oracles.py, its central differences from codegen/oracles.py) are
tested too: each accepts the right derivative and rejects a wrong one (an error of 1e-4,
a wrong transpose), so a green suite means something.  (tests/test_arrays_oracles.py
does the same for the array harness.)"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sympy
from conftest import options
from oracles import (
    FD_ATOL,
    FD_RTOL,
    FD_STEP,
    KINK_MARGIN,
    POSITIVE,
    SYMPY_RTOL,
    central_difference,
    check_dot_product,
    check_vjp,
    fd_close,
    fd_step,
    fd_vjp,
    oracle,
    sample_point,
    symbolic_close,
    sympy_at,
    sympy_close,
)

#: functions with their exact derivatives, at points inside their domains
KNOWN = [
    (math.sin, math.cos, (-3.0, 3.0)),
    (math.exp, math.exp, (-2.0, 2.0)),
    (math.log, lambda x: 1.0 / x, POSITIVE),
    (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2, (-2.0, 2.0)),
    (lambda x: x**3, lambda x: 3.0 * x**2, (-2.0, 2.0)),
]


@pytest.mark.parametrize("k", range(len(KNOWN)))
def test_central_difference_matches_exact_derivatives(k: int) -> None:
    fn, derivative, domain = KNOWN[k]
    rng = random.Random(k)
    for _ in range(20):
        x = rng.uniform(*domain)
        fd = central_difference(fn, [x], 0)
        exact = derivative(x)
        assert fd_close(fd, exact, fn(x)), (x, fd, exact)
        # the rounding error is well inside FD_ATOL: the headroom the docstring claims
        assert abs(fd - exact) <= FD_ATOL * (1 + abs(fn(x))) / 2, (x, fd - exact)
        # and a derivative off by 1e-4 (relative) is rejected
        assert not fd_close(fd, exact * (1 + 1e-4) + 1e-4, fn(x))


def test_central_difference_moves_one_coordinate() -> None:
    def f(x: float, y: float, z: float) -> float:
        return x * y + math.sin(z) * x

    point = [0.7, -1.3, 0.4]
    exact = (point[1] + math.sin(point[2]), point[0], math.cos(point[2]) * point[0])
    for i, want in enumerate(exact):
        assert fd_close(central_difference(f, point, i), want, f(*point))


def test_the_step_is_relative_beyond_one() -> None:
    """At x = 1e6 an absolute step of 1e-6 leaves a rounding error of
    eps * x**2 / h ~ 1e2 in d(x**2)/dx (7.6e-6 relative); the relative step h = 1
    is exact there."""
    assert fd_step(0.25) == FD_STEP
    assert fd_step(-4.0) == 4 * FD_STEP
    x = 1e6
    fd = central_difference(lambda v: v * v, [x], 0)
    assert abs(fd - 2 * x) <= FD_RTOL * 2 * x
    assert fd_close(fd, 2 * x, x * x)


def test_fd_vjp_of_a_matrix_product() -> None:
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)
    c = rng.standard_normal(3)

    def forward(point):
        return np.tanh(point["A"] @ point["x"])

    s = 1 - forward({"A": A, "x": x}) ** 2
    exact = {"A": np.outer(c * s, x), "x": A.T @ (c * s)}
    for name, want in exact.items():
        np.testing.assert_allclose(
            fd_vjp(forward, {"A": A, "x": x}, c, name), want, rtol=1e-7, atol=1e-9
        )
    check_vjp(forward, {"A": A, "x": x}, c, exact)
    wrong = dict(exact, x=exact["x"] * (1 + 1e-4))
    with pytest.raises(AssertionError, match="dx"):
        check_vjp(forward, {"A": A, "x": x}, c, wrong)
    with pytest.raises(AssertionError):
        check_vjp(forward, {"A": A, "x": x}, c, dict(exact, x=np.full(4, np.nan)))


def _linear_map(n: int, seed: int):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    point = {"v": rng.standard_normal(n)}
    c = rng.standard_normal(n)
    return M, point, c


@pytest.mark.parametrize("seed", range(5))
def test_dot_product_test_accepts_the_transpose(seed: int) -> None:
    M, point, c = _linear_map(4, seed)

    def forward(p):
        return M @ p["v"]

    check_dot_product(forward, point, c, {"v": M.T @ c}, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", range(5))
def test_dot_product_test_flags_a_wrong_transpose(seed: int) -> None:
    """J^T c computed as J c (the transpose forgotten) fails for a non-symmetric J."""
    M, point, c = _linear_map(4, seed)

    def forward(p):
        return M @ p["v"]

    with pytest.raises(AssertionError):
        check_dot_product(forward, point, c, {"v": M @ c}, np.random.default_rng(seed))


def test_dot_product_test_flags_a_scaled_gradient() -> None:
    M, point, c = _linear_map(3, 9)

    def forward(p):
        return np.exp(M @ p["v"])

    exact = M.T @ (c * forward(point))
    rng = np.random.default_rng(3)
    check_dot_product(forward, point, c, {"v": exact}, rng)
    with pytest.raises(AssertionError):
        check_dot_product(forward, point, c, {"v": exact * (1 + 1e-4)}, rng)


def test_sympy_oracle_is_sympy_diff_of_the_program() -> None:
    orc = oracle("a = x * y; f = a + sin(x)", options("math"))
    assert orc.inputs == ("x", "y") and orc.wrt == ("x", "y")
    value, (dx, dy) = orc.evaluate({"x": 0.5, "y": -2.0})
    assert value == pytest.approx(-1.0 + math.sin(0.5), rel=1e-15)
    assert dx == pytest.approx(-2.0 + math.cos(0.5), rel=1e-15)
    assert dy == 0.5
    assert sympy_close(dx, -2.0 + math.cos(0.5))
    assert not sympy_close(dx * (1 + 10 * SYMPY_RTOL), -2.0 + math.cos(0.5))


def test_sympy_oracle_respects_wrt() -> None:
    orc = oracle("x * exp(y) + z", options(wrt=("z", "x")))
    _, grads = orc.evaluate({"x": 2.0, "y": 0.0, "z": 5.0})
    assert grads == (1.0, 1.0)


def test_sympy_at_evaluates_where_float_evalf_cannot() -> None:
    """A Max whose argument cancels to zero (x - min(x, y) with x the minimum): SymPy's
    evalf refuses it ('0.e-165 is not comparable'); the oracle still answers."""
    orc = oracle("max(x, -(x), (x) - (min(x, y, 0.5)))")
    assert orc.evaluate({"x": -1.0, "y": 0.0}) == (1.0, (-1.0, 0.0))


def test_symbolic_close_is_strict() -> None:
    x = sympy.Symbol("x", real=True)
    got = sympy_at(sympy.sin(x) ** 2 + sympy.cos(x) ** 2, {x: 0.3})
    assert symbolic_close(got, 1.0)
    assert not symbolic_close(1.0 + 1e-11, 1.0)


def test_sample_point_keeps_away_from_kinks() -> None:
    orc = oracle("relu(x - y) + abs(x) + max(x, y)")
    rng = random.Random(4)
    for _ in range(50):
        point = sample_point(rng, orc, default=(-0.01, 0.01))
        assert orc.kink_distance(point) > KINK_MARGIN
        assert abs(point["x"] - point["y"]) > KINK_MARGIN
        assert abs(point["x"]) > KINK_MARGIN
    assert oracle("x * y").kink_distance({"x": 0.0, "y": 0.0}) == math.inf
    with pytest.raises(AssertionError, match="kinks"):
        sample_point(rng, oracle("abs(x)"), default=(-1e-4, 1e-4))


def test_the_finite_differences_know_no_generator() -> None:
    """codegen/oracles.py (shared with --verify) and --verify itself import no stage of
    the generator: what they check is the generated code's own forward.  (The
    package's ``__init__`` imports the whole API, so the modules are followed in the
    static import graph.)"""
    from test_imports import import_graph

    graph = import_graph()
    start = ["oracles", "verify"]
    reached: set[str] = set()
    while start:
        module = start.pop()
        if module not in reached:
            reached.add(module)
            start.extend(graph[module])
    assert sorted(reached) == [
        "errors",
        "oracles",
        "verify",
        "verify_check",
        "verify_report",
        "verify_spec",
    ]
