"""A corpus of expressions and programs: generated gradients agree with sympy.diff and
with central finite differences, on both backends, one point at a time and in batches.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import (
    BACKENDS,
    as_array,
    check_against_oracles,
    load,
    options,
    split_statements,
)
from oracles import (
    POSITIVE,
    SYMMETRIC,
    central_difference,
    fd_close,
    grads_tuple,
    oracle,
    sample_point,
)

from codegen.generate import Options, generate

POINTS = 3
BATCH = 6

Domain = dict[str, tuple[float, float]]

#: around zero, for functions defined everywhere; POS stays clear of 0 for log/sqrt/div
SYM = SYMMETRIC
POS = POSITIVE


@dataclass(frozen=True)
class Case:
    source: str
    wrt: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    domain: Domain = field(default_factory=dict)
    default: tuple[float, float] = POS
    id: str = ""

    def label(self) -> str:
        extra = ""
        if self.wrt is not None:
            extra += f" wrt={','.join(self.wrt)}"
        if self.inputs is not None:
            extra += f" inputs={','.join(self.inputs)}"
        return self.id or (self.source.replace("\n", "; ") + extra)


CORPUS: list[Case] = [
    # every user function, on its own
    Case("exp(x)", default=SYM),
    Case("log(x)"),
    Case("sqrt(x)"),
    Case("sin(x)", default=(-3.0, 3.0)),
    Case("cos(x)", default=(-3.0, 3.0)),
    Case("tan(x)", default=(-1.2, 1.2)),
    Case("tanh(x)", default=SYM),
    Case("sigmoid(x)", default=(-4.0, 4.0)),
    Case("relu(x)", default=SYM),
    Case("abs(x)", default=SYM),
    Case("max(x, y)", default=SYM),
    Case("min(x, y)", default=SYM),
    Case("max(x, y, z)", default=SYM),
    Case("min(x, y, z, w)", default=SYM),
    Case("pi * x**2", default=SYM),
    Case("2 * pi * x + pi", default=SYM),
    # operators
    Case("x + y", default=SYM),
    Case("x - y", default=SYM),
    Case("x * y", default=SYM),
    Case("x / y"),
    Case("x ** y"),
    Case("x ** 3", default=SYM),
    Case("x ** -2"),
    Case("x ** 0.5"),
    # rational exponents: the derivative's exponent is a negative rational
    Case("x ** (1/3)"),
    Case("x ** (-1/3)"),
    Case("(1 + x*x) ** (2/3)", default=SYM),
    Case("y * x ** (-2/3) + 2 ** (-1/2) * x"),
    Case("2 ** x", default=SYM),
    Case("-x", default=SYM),
    Case("-(x * y)", default=SYM),
    Case("x - -y", default=SYM),
    Case("-x ** 2 + +y", default=SYM),
    Case("-(-x)", default=SYM),
    # nesting
    Case("sin(exp(x) * log(y + 2))"),
    Case("sqrt(1 + tanh(x * y) ** 2)", default=SYM),
    Case("sigmoid(relu(x - y) * z)", default=SYM),
    Case("log(1 + exp(-abs(x)))", default=SYM),
    Case("tanh(tanh(tanh(x)))", default=SYM),
    Case("exp(-x**2 / 2) / sqrt(2 * pi)", default=SYM),
    Case("log(sigmoid(x))", default=SYM),
    Case("1 / (1 + exp(-x))", default=SYM),
    Case("(x + 1) ** 2 - 2 * x * y + y ** 2", default=SYM),
    Case("sqrt(x * x + y * y)"),
    Case("x * y * z * w + x / y - z ** 2"),
    Case("max(sin(x), cos(x)) * y", default=(-3.0, 3.0)),
    Case("min(x * y, x + y)", default=SYM),
    Case("max(x, 0.5) * y", default=SYM),
    Case("abs(x - y) + relu(y - x)", default=SYM),
    Case("cos(tan(x) * sin(y)) ** 2", default=(-1.2, 1.2)),
    # fan-out and shared subexpressions
    Case("x * x", default=SYM),
    Case("x * y + x", default=SYM),
    Case("exp(x) * sin(x) + x", default=SYM),
    Case("sin(x * y) + cos(x * y)", default=SYM),
    Case("(x + y) * (x + y) + exp(x + y)", default=(-1.0, 1.0)),
    Case("a = x * y\nb = a + a\nc = a * b\nf = c / a", default=POS),
    Case("q = y*z; f = x + q", default=SYM),
    Case(
        "# the lecture's chain\na = x + 1\nb = a * 2\nc = -b\nd = c + 1\ne = d * 2\n"
        "f = sigmoid(e)",
        default=(-2.5, 0.5),
    ),
    Case("u = sin(x); v = u * u; w = v + u; f = w * x", default=SYM),
    Case("c = x / y; d = c * x + x / y * y; f = d - c / x", default=POS),
    Case("a = x / y; b = y / x; f = a * b - x / (y * x)", default=POS),
    # constants and literals
    Case("1e-3 * x + 2.5", default=SYM),
    Case("x / 2.5e2 - 1e-3 * y ** 2", default=SYM),
    Case("3 * x + 0.5 * y - 2", default=SYM),
    Case("2 + 3 * 4"),
    Case("x * (2 ** 0.5) + 1 / 3", default=SYM),
    # huge and tiny constants that fold to ordinary floats
    Case("x * (10**400 / 10**399) + 10**-400 * x + 3 / 10**400", default=SYM),
    # functions of constants whose value underflows to 0.0 (once a math domain error)
    Case("x * exp(-1000) + sigmoid(-800) * y + x", default=SYM),
    # name collisions
    Case("dx * x + x", default=SYM),
    Case("dx + d_x * x + ddx", default=SYM),
    Case("t1 * x + exp(x * y)", default=SYM),
    Case("t1 + t2 * sin(t1 * x)", default=SYM),
    Case("f * 2 + x", default=SYM),
    Case("f * exp(x) + df", default=SYM),
    Case("dy = x * 2; f = dy + y", default=SYM),
    Case("g = x * y; dg = g + x", default=SYM),
    Case("f_2 = x * y; f * f_2", default=SYM),
    # --wrt subsets and --inputs order
    Case("x * y + z", wrt=("z", "x"), default=SYM),
    Case("sin(x) * y", wrt=("y",), default=SYM),
    Case("x * exp(y) + log(z)", wrt=("x",)),
    Case("x * y + z", inputs=("z", "y", "x"), default=SYM),
    Case("q = y*z; f = x + q", inputs=("x", "y", "z"), wrt=("z", "x"), default=SYM),
    # unused declared inputs: gradient 0
    Case("x * 2", inputs=("x", "y"), default=SYM),
    Case("x: float\ny: float\nf = x * 3", default=SYM),
    Case("sin(x)", inputs=("w", "x", "v"), wrt=("v", "x"), default=SYM),
    # x - x keeps x as an input, gradient 0
    Case("x - x", default=SYM),
    Case("x / x + y - y"),
    Case("0 * x", default=SYM),
]


def _case_options(case: Case, backend: str) -> Options:
    return options(backend, wrt=case.wrt, inputs=case.inputs)


def _points(case: Case, backend: str, n: int, seed: str) -> list[dict[str, float]]:
    orc = oracle(case.source, _case_options(case, backend))
    rng = random.Random(f"{seed}:{case.source}:{case.wrt}:{case.inputs}")
    return [sample_point(rng, orc, case.domain, case.default) for _ in range(n)]


IDS = [case.label() for case in CORPUS]


def test_corpus_is_large_and_covers_every_function() -> None:
    assert len(CORPUS) >= 50
    text = " ".join(case.source for case in CORPUS)
    for name in "exp log sqrt sin cos tan tanh sigmoid relu abs max min pi".split():
        assert (f"{name}(" if name != "pi" else "pi") in text, name
    for op in ("+", "-", "*", "/", "**"):
        assert op in text


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CORPUS, ids=IDS)
def test_gradients_match_sympy_and_finite_differences(case: Case, backend: str) -> None:
    opts = _case_options(case, backend)
    points = _points(case, backend, POINTS, "corpus")
    check_against_oracles(case.source, opts, points)


BATCHABLE = [case for case in CORPUS if oracle(case.source).inputs]


@pytest.mark.parametrize("case", BATCHABLE, ids=[case.label() for case in BATCHABLE])
def test_numpy_batch_equals_a_loop(case: Case) -> None:
    opts = _case_options(case, "numpy")
    module = load(case.source, opts)
    points = _points(case, "numpy", BATCH, "batch")
    names = module.INPUTS
    arrays = [as_array([p[n] for p in points]) for n in names]
    value, grads = module.forward_backward(*arrays)
    assert np.shape(value) == (BATCH,)
    assert np.shape(module.forward(*arrays)) == (BATCH,)
    assert len(grads) == len(module.WRT)
    for grad in grads:
        assert np.shape(grad) == (BATCH,)
    for k, point in enumerate(points):
        one_value, one_grads = module.forward_backward(*(point[n] for n in names))
        np.testing.assert_allclose(value[k], float(one_value), rtol=1e-13, atol=0)
        np.testing.assert_allclose(
            [g[k] for g in grads], grads_tuple(one_grads), rtol=1e-13, atol=1e-300
        )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CORPUS[::7], ids=IDS[::7])
def test_upstream_gradient_scales_linearly(case: Case, backend: str) -> None:
    opts = _case_options(case, backend)
    module = load(case.source, opts)
    (point,) = _points(case, backend, 1, "upstream")
    args = [point[n] for n in module.INPUTS]
    _, unit = module.forward_backward(*args)
    _, scaled = module.forward_backward(*args, -2.5)
    for u, s in zip(grads_tuple(unit), grads_tuple(scaled), strict=True):
        assert s == pytest.approx(-2.5 * u, rel=1e-14, abs=1e-300)


# --- specific contracts -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_x_minus_x_keeps_x_as_an_input(backend: str) -> None:
    module = load("x - x", options(backend))
    assert module.INPUTS == ("x",)
    value, grads = module.forward_backward(1.25)
    assert float(value) == 0.0
    assert grads_tuple(grads) == (0.0,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unused_declared_input_has_zero_gradient(backend: str) -> None:
    module = load("x * 2", options(backend, inputs=("x", "y")))
    assert module.INPUTS == ("x", "y")
    _, grads = module.forward_backward(1.5, -0.25)
    assert grads.y == 0.0
    fd = central_difference(module.forward, [1.5, -0.25], 0)
    assert fd_close(fd, float(grads.x), 3.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_in_order_of_first_appearance(backend: str) -> None:
    module = load("q = y*z; f = x + q", options(backend))
    assert module.INPUTS == ("y", "z", "x")
    module = load("x * y + z", options(backend, inputs=("z", "y", "x")))
    assert module.INPUTS == ("z", "y", "x")
    assert module.WRT == ("z", "y", "x")


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrt_order_and_names(backend: str) -> None:
    module = load("x * y + z", options(backend, wrt=("z", "x")))
    assert module.INPUTS == ("x", "y", "z")
    assert module.WRT == ("z", "x")
    value, grads = module.forward_backward(2.0, 3.0, 5.0)
    assert grads._fields == ("z", "x")
    assert float(value) == 11.0
    orc = oracle("x * y + z", options(backend, wrt=("z", "x")))
    assert grads_tuple(grads) == orc.evaluate({"x": 2.0, "y": 3.0, "z": 5.0})[1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_expression_has_no_gradients(backend: str) -> None:
    module = load("2 + 3 * 4", options(backend))
    assert module.INPUTS == ()
    value, grads = module.forward_backward()
    assert float(value) == float(oracle("2 + 3 * 4").value)
    assert tuple(grads) == ()


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_named_like_a_gradient(backend: str) -> None:
    # an input dx beside x: both gradients exist and are distinct
    module = load("dx * x + x", options(backend))
    assert module.INPUTS == ("dx", "x")
    point = [0.75, -1.5]
    value, grads = module.forward_backward(*point)
    for i, g in enumerate(grads_tuple(grads)):
        fd = central_difference(module.forward, point, i)
        assert fd_close(fd, g, float(value))


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_keeps_what_the_user_wrote(backend: str) -> None:
    text = generate(
        "a = 1e-3 * x; b = a * 2.5; c = -b; d = x - y; f = d / c", options(backend)
    )
    forward, _ = split_statements(text, "forward")
    assert forward == [
        "a = 1e-3 * x",
        "b = a * 2.5",
        "c = -b",
        "d = x - y",
        "f = d / c",
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_fan_out_division_names_the_quotient_once(backend: str) -> None:
    """z = x / y with dx already holding a gradient: dz / y is computed once, for dx
    and for dy (dy = -dx * z would read the accumulated dx), and the negated
    contribution accumulates as a subtraction."""
    text = generate("z = x / y; f = z * x", options(backend))
    _, backward = split_statements(text, "forward_backward")
    assert backward[-3:] == [
        "dx_part = dz / y",
        "dx = dx + dx_part  # fan-out: gradients add up",
        "dy = -dx_part * z",
    ]
    text = generate("z = x / y; f = z * y", options(backend))
    _, backward = split_statements(text, "forward_backward")
    assert backward[-2:] == [
        "dx = dz / y",
        "dy = dy - dx * z  # fan-out: gradients add up",
    ]


# --- sigmoid far out: no overflow, no nan, no warning ------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("x", "want"), [(1000.0, 1.0), (-1000.0, 0.0)])
def test_sigmoid_saturates_cleanly(backend: str, x: float, want: float) -> None:
    module = load("sigmoid(x)", options(backend))
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        warnings.simplefilter("error")
        value, (dx,) = module.forward_backward(x)
        forward_value = module.forward(x)
    assert float(value) == want
    assert float(forward_value) == want
    assert np.isfinite(dx)
    assert float(dx) == 0.0


def test_sigmoid_saturates_cleanly_on_arrays() -> None:
    module = load("sigmoid(x)", options("numpy"))
    xs = as_array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        warnings.simplefilter("error")
        value, (dx,) = module.forward_backward(xs)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(dx))
    assert value[0] == 0.0 and value[-1] == 1.0
    assert value[2] == pytest.approx(0.5, rel=1e-15)
    assert np.all((value >= 0) & (value <= 1))
    np.testing.assert_allclose(dx, value * (1 - value), rtol=1e-15, atol=0)
