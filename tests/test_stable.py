"""The stable primitives at extreme arguments (against mpmath), norm's convention at 0,
the warnings about unstable spellings and their ``--stable`` rewrite, and math-backend
modules on NumPy float64 scalars."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import mpmath
import numpy as np
import pytest
from conftest import BACKENDS, load, load_generated
from conftest import options as _options
from oracles import (
    MPMATH_RTOL,
    check_vjp,
    mpmath_close,
    mpmath_value_and_grads,
    random_like,
)

from codegen.errors import OptionError
from codegen.generate import compile_source, generate, generate_with_warnings
from codegen.options import OPTIONS, Options, command_line, options_from_toml

ROOT = Path(__file__).resolve().parent.parent


def options(backend: str = "numpy", **fields: object) -> Options:
    return replace(_options(backend=backend), **fields)


EXTREMES = (-1000.0, -700.0, -30.0, -1e-20, -1e-300, 1e-300, 1e-20, 30.0, 700.0, 1000.0)

#: primitive -> (its meaning in mpmath, the arguments it is defined and finite at)
MEANINGS = {
    "softplus": (lambda x: mpmath.log1p(mpmath.exp(x)), EXTREMES),
    "log_sigmoid": (lambda x: -mpmath.log1p(mpmath.exp(-x)), EXTREMES),
    "log1p": (mpmath.log1p, tuple(x for x in EXTREMES if x > -1)),
    # exp(1000) - 1 is beyond float64 (math raises, NumPy gives inf)
    "expm1": (mpmath.expm1, tuple(x for x in EXTREMES if x < 1000)),
}


def _errors(got: float, want: float) -> float:
    return abs(got - want) / max(abs(want), 2.2250738585072014e-308)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("prim", sorted(MEANINGS))
def test_unary_stable_primitives_against_mpmath(backend: str, prim: str) -> None:
    """Value and gradient at 1e-300, 1e-20, +-30, +-700, +-1000 within 8 ulp of the
    correctly rounded answer (MPMATH_RTOL), with no floating-point warning."""
    fn, points = MEANINGS[prim]
    module = load(f"f = {prim}(x)", options(backend=backend))
    for x in points:
        want, (want_dx,) = mpmath_value_and_grads(fn, [x])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got, (got_dx,) = module.forward_backward(x)
        assert mpmath_close(got, want), (prim, x, got, want, _errors(got, want))
        assert mpmath_close(got_dx, want_dx), (prim, x, got_dx, want_dx)


@pytest.mark.parametrize("prim", sorted(MEANINGS))
def test_unary_stable_primitives_on_arrays_and_float64(prim: str) -> None:
    """The numpy module on an array of all the points at once, and the math module on
    NumPy float64 scalars: the same answers."""
    fn, points = MEANINGS[prim]
    array = load(f"x: array[N]\nf = {prim}(x)", options(backend="numpy"))
    plain = load(f"f = {prim}(x)", options(backend="math"))
    xs = np.array(points)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = array.forward(xs)
        _, (grads,) = array.forward_backward(xs, np.ones_like(xs))
    for k, x in enumerate(points):
        want, (want_dx,) = mpmath_value_and_grads(fn, [x])
        assert mpmath_close(values[k], want), (prim, x)
        assert mpmath_close(grads[k], want_dx), (prim, x)
        got, (got_dx,) = plain.forward_backward(np.float64(x))
        assert mpmath_close(got, want) and mpmath_close(got_dx, want_dx), (prim, x)


def test_the_issue_numbers() -> None:
    for backend in BACKENDS:
        opts = options(backend=backend)
        assert load("f = log_sigmoid(x)", opts).forward_backward(-1000.0) == (
            -1000.0,
            (1.0,),
        )
        assert load("f = softplus(x)", opts).forward_backward(1000.0) == (
            1000.0,
            (1.0,),
        )
        assert load("f = log1p(x)", opts).forward_backward(1e-20)[0] == 1e-20


LOGADDEXP_POINTS = [
    (a, b) for a in EXTREMES for b in (-1000.0, -30.0, 0.0, 1e-20, 30.0, 1000.0)
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_logaddexp_against_mpmath(backend: str) -> None:
    """The value within 8 ulp; each gradient exp(a - out) within 8 ulp times
    max(1, |out|): out is rounded to half an ulp of |out| before the subtraction, an
    absolute error that exp turns into a relative one (the condition number of
    exp(a - out) in out is |out|)."""
    module = load("f = logaddexp(a, b)", options(backend=backend))
    worst = 0.0
    for a, b in LOGADDEXP_POINTS:
        want, (want_da, want_db) = mpmath_value_and_grads(
            lambda u, v: mpmath.log(mpmath.exp(u) + mpmath.exp(v)), [a, b]
        )
        got, (da, db) = module.forward_backward(a, b)
        assert mpmath_close(got, want), (a, b, got, want)
        scale = max(1.0, abs(want))
        assert mpmath_close(da, want_da, scale), (a, b, da, want_da)
        assert mpmath_close(db, want_db, scale), (a, b, db, want_db)
        worst = max(worst, _errors(da, want_da) / scale, _errors(db, want_db) / scale)
    assert worst <= MPMATH_RTOL


def test_the_textbook_formulas_fail_where_the_stable_ones_hold() -> None:
    """The oracle can fail: the unstable spellings are far outside the tolerance."""
    naive = load("f = log(1 + exp(x))", options(backend="numpy"))
    with np.errstate(all="ignore"):
        assert not np.isfinite(naive.forward(1000.0))
    lost = load("f = log(1 + x)", options(backend="math")).forward(1e-20)
    assert not mpmath_close(lost, 1e-20)


# --- norm ---------------------------------------------------------------------------


NORMS = {
    "norm(x)": lambda x: np.sqrt((x * x).sum()),
    "sqrt(sum(x * x))": lambda x: np.sqrt((x * x).sum()),
    "sqrt(sum(x**2))": lambda x: np.sqrt((x * x).sum()),
}


@pytest.mark.parametrize("spelling", sorted(NORMS))
def test_norm_gradient_at_zero_is_zero(spelling: str) -> None:
    module = load(f"x: array[N]\nf = {spelling}", options())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dx,) = module.forward_backward(np.zeros(4))
    assert value == 0.0
    assert np.array_equal(dx, np.zeros(4))


def test_sqrt_of_a_sum_of_squares_is_computed_as_norm() -> None:
    text = generate("x: array[N]\nf = sqrt(sum(x * x))", options())
    assert "f = np.hypot.reduce(x, axis=None)" in text
    assert "norm(a) (and sqrt(sum(a * a)), computed as norm(a)) at a = 0" in " ".join(
        text.split()
    )
    # other square roots keep sqrt'(0) = inf, and no norm convention is stated
    other = generate("x: array[N]\nf = sqrt(sum(x * x + 1))", options())
    assert "hypot" not in other and "norm(a)" not in other


@pytest.mark.parametrize(
    ("source", "shape"),
    [
        ("x: array[N]\nf = norm(x)", (5,)),
        ("x: array[N, D]\nf = norm(x, axis=1)", (3, 4)),
        ("x: array[N, D]\nf = norm(x, axis=0, keepdims=True)", (3, 4)),
        ("x: array[N, D]\nf = norm(x)", (3, 4)),
        ("x: array[N, D]\nf = sqrt(sum(x * x, axis=1))", (3, 4)),
    ],
)
def test_norm_against_central_differences(source: str, shape: tuple[int, ...]) -> None:
    module = load(source, options())
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    c = random_like(module.forward(x), rng)
    _, (dx,) = module.forward_backward(x, c)
    check_vjp(lambda p: module.forward(p["x"]), {"x": x}, c, {"x": dx})


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1.0, 1e200, 1e300])
def test_norm_across_the_range(scale: float) -> None:
    """No square overflows or underflows: value and gradient within 8 ulp of mpmath
    (times the length: hypot.reduce rounds once per element)."""
    module = load("x: array[N]\nf = norm(x)", options())
    x = np.array([3.0, -4.0, 12.0, 0.5]) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dx,) = module.forward_backward(x)
    with mpmath.workdps(60):
        exact = mpmath.sqrt(sum(mpmath.mpf(v) ** 2 for v in x))
        want_dx = [float(mpmath.mpf(v) / exact) for v in x]
    assert mpmath_close(value, float(exact), len(x))
    for got, want in zip(dx, want_dx, strict=True):
        assert mpmath_close(got, want, 2 * len(x)), (got, want)


def test_norm_jvp_at_zero_is_zero() -> None:
    module = load("x: array[N]\nf = norm(x)", options(mode=("grad", "jvp")))
    value, tangent = module.jvp(np.zeros(3), np.ones(3))
    assert value == 0.0 and tangent == 0.0


# --- warnings and --stable ----------------------------------------------------------


PATTERNS = [
    ("f = log(sigmoid(x))", "f = log_sigmoid(x)", "log(sigmoid(x))", "log_sigmoid(x)"),
    ("f = log(1 + exp(x))", "f = softplus(x)", "log(1 + exp(x))", "softplus(x)"),
    ("f = log(x + 1)", "f = log1p(x)", "log(x + 1)", "log1p(x)"),
    ("f = exp(x) - 1.0", "f = expm1(x)", "exp(x) - 1.0", "expm1(x)"),
    (
        "x: array[N, C]\nf = sum(log(sum(exp(x), axis=1)))",
        "x: array[N, C]\nf = sum(logsumexp(x, axis=1))",
        "log(sum(exp(x), axis=1))",
        "logsumexp(x, axis=1)",
    ),
]


def _body(text: str) -> str:
    """The module after its header docstring."""
    return text.split('"""', 2)[2]


@pytest.mark.parametrize(("written", "spelled", "what", "stable"), PATTERNS)
def test_each_pattern_is_warned_once_with_its_line(
    written: str, spelled: str, what: str, stable: str
) -> None:
    source = f"# a comment\n\n{written}\ng = f * 2"
    line = 3 + written.count("\n")
    text, found = generate_with_warnings(source, options(), "prog.bp")
    assert len(found) == 1, found
    assert re.match(rf"prog\.bp:{line}:\d+: {re.escape(what)} ", found[0]), found
    assert f"write {stable}" in found[0]
    # what the user wrote is what is generated
    assert text == generate(source, options(), "prog.bp")
    assert not generate_with_warnings(f"# a comment\n\n{spelled}\ng = f * 2")[1]


@pytest.mark.parametrize(("written", "spelled", "what", "stable"), PATTERNS)
def test_stable_output_equals_the_stable_spelling(
    written: str, spelled: str, what: str, stable: str
) -> None:
    rewritten = generate(written, options(stable=True))
    by_hand = generate(spelled, options())
    assert _body(rewritten) == _body(by_hand)
    assert f"Rewritten for stability (--stable): {what} as {stable} (line" in " ".join(
        rewritten.split()
    )
    assert not compile_source(written, options(stable=True)).warnings


@pytest.mark.parametrize(("written", "spelled", "what", "stable"), PATTERNS[:4])
@pytest.mark.parametrize("backend", BACKENDS)
def test_stable_gradients_agree(
    written: str, spelled: str, what: str, stable: str, backend: str
) -> None:
    plain = load(written, options(backend=backend))
    fixed = load(written, options(backend=backend, stable=True))
    for x in (-0.5, 0.3, 1.7, 4.0):
        value, (dx,) = plain.forward_backward(x)
        value2, (dx2,) = fixed.forward_backward(x)
        assert abs(value - value2) <= 1e-14 * max(1.0, abs(value))
        assert abs(dx - dx2) <= 1e-14 * max(1.0, abs(dx))


def test_nested_patterns_are_each_warned_and_rewritten() -> None:
    source = "f = log(1 + (exp(x) - 1))"
    found = compile_source(source, options()).warnings
    assert [w.split(": ")[1].split(" ")[0] for w in found] == ["log(1", "exp(x)"]
    text = generate(source, options(stable=True))
    assert "f = np.log1p(t1)" in text and "t1 = np.expm1(x)" in text


def test_logsumexp_itself_is_not_warned() -> None:
    source = "x: array[N, C]\nf = sum(logsumexp(x, axis=1) + log_softmax(x)[0, 0])"
    assert not compile_source(source, options()).warnings


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_cli_prints_warnings_on_stderr_and_rewrites_with_stable() -> None:
    done = _cli("q = sigmoid(x); f = log(q) + log(sigmoid(x))")
    assert done.returncode == 0
    assert done.stderr == (
        "backpropgen: warning: <expr>:1:30: log(sigmoid(x)) is -inf below about -745; "
        "write log_sigmoid(x) (or generate with --stable)\n"
    )
    assert "np.log(" in done.stdout
    stable = _cli("f = log(sigmoid(x))", "--stable")
    assert stable.returncode == 0 and stable.stderr == ""
    assert "    f = -np.logaddexp(0, -x)\n" in stable.stdout
    assert (
        "Regenerate with: backpropgen 'f = log(sigmoid(x))' --stable" in stable.stdout
    )


def test_stable_in_the_manifest_and_the_regenerate_command() -> None:
    (option,) = [o for o in OPTIONS if o.name == "stable"]
    assert option.manifest and option.regenerate
    assert options_from_toml({"stable": True}, "[m]") == Options(stable=True)
    assert options_from_toml({"stable": False}, "[m]") == Options()
    with pytest.raises(OptionError, match="'stable' must be true or false"):
        options_from_toml({"stable": "yes"}, "[m]")
    assert command_line({"stable": True}) == ["--stable"]
    assert command_line({"stable": None}) == []


# --- math backend on NumPy float64 scalars --------------------------------------------


MATH_PROGRAMS = [
    "f = abs(x) * y + max(x, y) - min(x, z)",
    "f = relu(x - y) + abs(sin(z)) / (1 + x * x)",
    "f = sigmoid(x) * tanh(y) + sqrt(z * z + 1) ** x",
    "f = softplus(x) + log_sigmoid(y) + logaddexp(x, z) + expm1(y) + log1p(z * z)",
    "f = max(x, y, z) + min(abs(x), abs(y), abs(z))",
]


@pytest.mark.parametrize("source", MATH_PROGRAMS)
def test_math_modules_work_on_float64(source: str) -> None:
    """The same results for NumPy float64 arguments as for floats (each a float)."""
    module = load(source, options(backend="math", mode=("grad", "jvp", "hessian")))
    for point in ([0.5, -1.5, 2.0], [0.0, 0.0, 0.0], [-2.0, -2.0, 1.0]):
        want = module.forward_backward(*point)
        got = module.forward_backward(*(np.float64(v) for v in point))
        assert got == want
        assert module.hessian(*(np.float64(v) for v in point)) == module.hessian(*point)
        jvp = module.jvp(*(np.float64(v) for v in point), 1.0, 0.5, -1.0)
        assert jvp == module.jvp(*point, 1.0, 0.5, -1.0)


@pytest.mark.parametrize("name", ["sigmoid_chain_math", "sigmoid_chain_modes"])
def test_gallery_math_modules_work_on_float64(name: str) -> None:
    module = load_generated(name)
    point = [1.5, -0.5][: len(module.INPUTS)]
    want = module.forward_backward(*point)
    assert module.forward_backward(*(np.float64(v) for v in point)) == want
