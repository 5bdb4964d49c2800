"""What the speed work of issue #12 changed in generated code, held to oracles:
the math backend's one-exp sigmoid and the numpy backend's ``sigmoid`` function (against
mpmath across float64's range), Grads (still the namedtuple every caller uses), and the numpy
backend's upstream gradient on numbers (no array) and on batches (shaped like the
output, never the caller's array).  Speed itself is measured in ``benchmarks/``."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
from conftest import load, options

mpmath.mp.prec = 200

#: -1000 .. 1000 densely near 0, around the branch at -700 and at the extremes
POINTS = sorted(
    {
        *np.linspace(-40.0, 40.0, 801).tolist(),
        *np.linspace(-720.0, -690.0, 61).tolist(),
        -1000.0,
        -745.0,
        -709.9,
        -700.0000000001,
        -700.0,
        -699.9999999999,
        -36.9,
        -1e-300,
        0.0,
        1e-300,
        36.9,
        709.9,
        1000.0,
        *(math.ldexp(1.0, k) for k in range(-60, 10)),
        *(-math.ldexp(1.0, k) for k in range(-60, 10)),
    }
)


def ulps(got: float, want: mpmath.mpf) -> float:
    """|got - want| in units of the last place of float(want) (0 when both are 0)."""
    exact = float(want)
    if exact == 0.0:
        return 0.0 if got == 0.0 else math.inf
    return float(abs(mpmath.mpf(got) - want) / mpmath.mpf(math.ulp(exact)))


def test_math_sigmoid_is_one_exp_and_accurate_across_the_range() -> None:
    module = load("f = sigmoid(x)", options(backend="math"))
    worst = 0.0
    for x in POINTS:
        f, (dx,) = module.forward_backward(x)
        want = 1 / (1 + mpmath.exp(-mpmath.mpf(x)))
        assert math.isfinite(f) and math.isfinite(dx), x
        worst = max(worst, ulps(f, want))
        assert ulps(f, want) <= 2, (x, f, float(want))
        # the gradient f * (1 - f) from that value (the rule, unchanged): a few ulp,
        # plus the rounding of f that 1 - f exposes (f's ulp), never nan
        dwant = want * (1 - want)
        bound = 4 * math.ulp(float(dwant)) + 2 * math.ulp(f) + 1e-320
        assert abs(dx - float(dwant)) <= bound, x
    assert worst > 0  # the comparison is not vacuous
    assert module.forward(-1000.0) == 0.0 and module.forward(1000.0) == 1.0


def test_math_sigmoid_prints_one_exp_per_branch() -> None:
    from codegen.generate import generate

    text = generate("f = sigmoid(x)", options(backend="math"))
    line, again = [ln for ln in text.splitlines() if "exp(" in ln]
    assert line == again  # forward and forward_backward
    assert line.strip() == "f = 1.0 / (1.0 + exp(-x)) if x > -700 else exp(x)"
    assert "from math import exp\n" in text


def test_math_sigmoid_of_an_expression_keeps_its_precedence() -> None:
    module = load("f = sigmoid(-x * y)", options(backend="math"))
    for x, y in ((2.0, 3.0), (-400.0, 2.0), (400.0, 2.0), (0.5, -0.25)):
        want = 1 / (1 + mpmath.exp(x * y))
        assert ulps(module.forward(x, y), want) <= 2, (x, y)


def test_numpy_sigmoid_is_one_function_with_one_exp() -> None:
    """The numpy backend prints sigmoid(x) as the lecture writes it and defines it once,
    before the functions, with one exp of -|x|: np.where for arrays, a conditional for
    numbers (a one-line comment says why)."""
    from codegen.generate import generate

    text = generate("q = sigmoid(x)\nf = sigmoid(q * y)", options())
    lines = text.splitlines()
    start = lines.index("def sigmoid(x):")
    assert start < lines.index("def forward(x, y):")
    body = lines[start : lines.index("def forward(x, y):")]
    # one exp on each branch, and nowhere else in the module
    assert sum(line.count("np.exp(") for line in body) == 2
    assert sum(line.count("np.exp(") for line in lines) == 2
    assert "    z = np.exp(-np.abs(x))" in body
    assert "        z = np.exp(-abs(x))" in body
    assert [ln for ln in body if "isinstance" in ln][0].endswith(
        "# a number: np.where costs ~10x more here"
    )
    assert "    q = sigmoid(x)" in lines and "    f = sigmoid(t1)" in lines
    assert "import math" not in lines
    # a module without sigmoid does not define it
    assert "def sigmoid(x):" not in generate("f = tanh(x)", options()).splitlines()


def test_numpy_sigmoid_is_accurate_across_the_range_on_arrays_and_numbers() -> None:
    module = load("f = sigmoid(x)", options())
    xs = np.array(POINTS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no invalid value
        f, (dx,) = module.forward_backward(xs)
        f_numbers = [module.forward(x) for x in POINTS]
        f64 = [module.forward(np.float64(x)) for x in POINTS]
        specials = module.forward(np.array([np.inf, -np.inf, np.nan]))
    assert f.dtype == np.float64 and f.shape == xs.shape
    worst = 0.0
    for x, got, got_dx in zip(POINTS, f.tolist(), dx.tolist(), strict=True):
        want = 1 / (1 + mpmath.exp(-mpmath.mpf(x)))
        assert ulps(got, want) <= 2, (x, got, float(want))
        worst = max(worst, ulps(got, want))
        dwant = want * (1 - want)
        bound = 4 * math.ulp(float(dwant)) + 2 * math.ulp(got) + 1e-320
        assert abs(got_dx - float(dwant)) <= bound, x
    assert worst > 0  # the comparison is not vacuous
    # numbers (Python floats and np.float64) give the array's bits, as np.float64, so
    # NumPy's rules hold after it (1 / sigmoid(-1000.0) is inf, not ZeroDivisionError)
    assert f_numbers == f.tolist() == f64
    assert all(type(v) is np.float64 for v in f_numbers + f64)
    with np.errstate(divide="ignore"):
        assert load("1 / sigmoid(x)", options()).forward(-1000.0) == np.inf
    assert specials[0] == 1.0 and specials[1] == 0.0 and np.isnan(specials[2])
    numbers = [module.forward(v) for v in (np.inf, -np.inf, np.nan)]
    assert numbers[:2] == [1.0, 0.0] and np.isnan(numbers[2])
    # an int, a 0-d array and float32 take the array branch and keep their dtype
    assert module.forward(0) == 0.5
    assert module.forward(np.array(2.0)) == f[POINTS.index(2.0)]
    half = module.forward(np.array([-3.0, 0.0, 3.0], dtype=np.float32))
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, 1 / (1 + np.exp([3.0, 0.0, -3.0])), rtol=1e-6)


def test_grads_is_still_the_namedtuple() -> None:
    for backend in ("math", "numpy"):
        module = load("x + y*z", options(backend=backend))
        f, grads = module.forward_backward(-2.0, 5.0, -4.0)
        assert type(grads) is module.Grads
        assert grads._fields == ("x", "y", "z") == module.WRT
        assert (grads.x, grads.y, grads.z) == (1.0, -4.0, 5.0) == tuple(grads)
        assert grads._asdict() == {"x": 1.0, "y": -4.0, "z": 5.0}
        assert repr(grads).startswith("Grads(x=")
        assert module.Grads(1.0, -4.0, 5.0) == grads  # the user's constructor works
    one = load("f = sin(x)", options(backend="math"))
    _, grads = one.forward_backward(0.0)
    assert type(grads) is one.Grads and grads.x == 1.0 and len(grads) == 1


def test_numpy_on_numbers_makes_no_array() -> None:
    module = load("x + y*z", options())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f, grads = module.forward_backward(-2.0, 5.0, -4.0)
    assert isinstance(f, float) and not isinstance(f, np.ndarray)
    for g, want in zip(grads, (1.0, -4.0, 5.0), strict=True):
        assert isinstance(g, float) and np.ndim(g) == 0 and g == want
    _, grads = module.forward_backward(-2.0, 5.0, -4.0, 3.0)
    assert tuple(grads) == (3.0, -12.0, 15.0)


@pytest.mark.parametrize("df", [1.0, 2.0, "array"])
def test_numpy_batch_gradients_are_shaped_like_the_output(df: object) -> None:
    """A number among batch inputs gets an array gradient (the output's shape), and
    no returned gradient is the caller's upstream array."""
    module = load("x + y*z", options())
    x = np.array([1.0, 2.0, 3.0])
    upstream = np.array([1.0, 2.0, 3.0]) if df == "array" else df
    f, grads = module.forward_backward(x, 5.0, -4.0, upstream)
    scale = np.broadcast_to(upstream, (3,))
    for g, want in zip(grads, (scale, -4.0 * scale, 5.0 * scale), strict=True):
        assert isinstance(g, np.ndarray) and g.shape == (3,)
        np.testing.assert_array_equal(g, want)
        assert not np.shares_memory(g, np.asarray(upstream))
    # a number upstream with array inputs, and an array upstream with number inputs
    f, grads = module.forward_backward(2.0, 5.0, -4.0, np.array([1.0, 2.0]))
    assert all(g.shape == (2,) for g in grads)


def test_numpy_gradient_of_an_ignored_input_is_zeros_shaped_like_it() -> None:
    """As the README documents: the one gradient not shaped like the output."""
    from codegen.options import Options

    module = load("f = 2*x", Options(inputs=("x", "y")))
    _, grads = module.forward_backward(np.array([1.0, 2.0, 3.0]), 5.0)
    assert grads.x.shape == (3,) and grads.y.shape == () and grads.y == 0.0
    _, grads = module.forward_backward(1.0, np.zeros((2, 4), dtype=np.float32))
    assert np.shape(grads.x) == () and grads.y.shape == (2, 4)
    assert grads.y.dtype == np.float64 and not grads.y.any()
