"""where(c, a, b): the branch that was not selected contributes exactly 0.

Checked against the definitions at points on both sides of the condition (and on it):
the gradient of ``where(x > 0, sqrt(x), 0)`` is ``0.5 / sqrt(x)`` where ``x > 0`` and 0
elsewhere, even at x = -1 where sqrt's own derivative is nan, and at x = 0 for log.
Away from the boundary the gradients also agree with central differences.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
from conftest import load, options
from oracles import check_vjp

from codegen.generate import Options, compile_source
from codegen.linearize import linearize
from codegen.parse import parse
from codegen.reverse import branch_guards
from codegen.reverse_rules import WHERE_CONVENTION, where_note

X = np.array([-2.0, -1.0, 0.0, 0.25, 1.0, 4.0])


def _quiet(fn, *args):
    """Call a module function; the unselected branch's forward may warn (sqrt(-1)):
    the values it produces are not used."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


#: program over x (and y), and the definition of its gradient in x (and y)
ARRAY_CASES = {
    "sqrt": (
        "x: array[N]\nf = sum(where(x > 0, sqrt(x), 0))",
        lambda x, y: (np.where(x > 0, 0.5 / np.sqrt(np.abs(x) + (x <= 0)), 0.0), None),
    ),
    "log": (
        "x: array[N]\nf = sum(where(x > 0, log(x), 0))",
        lambda x, y: (np.where(x > 0, 1 / np.where(x > 0, x, 1.0), 0.0), None),
    ),
    "second-branch-with-scalar": (
        "x: array[N]\ny: float\nf = sum(where(x <= 0, 0, log(x) * y))",
        lambda x, y: (
            np.where(x > 0, y / np.where(x > 0, x, 1.0), 0.0),
            float(np.sum(np.log(x[x > 0]))),
        ),
    ),
    "both-branches": (
        # sqrt(1 - x) is nan for x > 1, where the first branch is selected
        "x: array[N]\ny: float\nf = sum(where(x > 0, log(x) * y, sqrt(1 - x) * y))",
        lambda x, y: (
            np.where(
                x > 0,
                y / np.where(x > 0, x, 1.0),
                -0.5 * y / np.sqrt(np.where(x <= 0, 1 - x, 1.0)),
            ),
            float(np.sum(np.log(x[x > 0])) + np.sum(np.sqrt(1 - x[x <= 0]))),
        ),
    ),
    "nested": (
        "x: array[N]\nf = sum(where(x > 0, where(x > 1, log(x - 1), sqrt(x)), 0))",
        lambda x, y: (
            np.where(
                x > 1,
                1 / np.where(x > 1, x - 1, 1.0),
                np.where(x > 0, 0.5 / np.sqrt(np.where(x > 0, x, 1.0)), 0.0),
            ),
            None,
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_unselected_branch_contributes_zero(case: str) -> None:
    source, definition = ARRAY_CASES[case]
    module = load(source)
    y = 0.7
    args = (X, y) if "y" in module.INPUTS else (X,)
    value, grads = _quiet(module.forward_backward, *args)
    want_x, want_y = definition(X, y)
    np.testing.assert_allclose(grads[0], want_x, rtol=1e-15, atol=0)
    assert np.all(np.isfinite(grads[0]) | (X == 0))  # inf only where sqrt(0) is taken
    if want_y is not None:
        assert grads[1] == pytest.approx(want_y, rel=1e-14)


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_against_central_differences_off_the_boundary(case: str) -> None:
    source, _ = ARRAY_CASES[case]
    module = load(source)
    rng = np.random.default_rng(3)
    x = rng.uniform(0.2, 3.0, 8) * rng.choice([-1.0, 1.0], 8)
    x = np.where(np.abs(x - 1) < 0.2, x + 0.5, x)  # away from the nested boundary
    point: dict[str, object] = {"x": x, "y": 0.7}

    def forward(p):
        return _quiet(module.forward, *[p[n] for n in module.INPUTS])

    _, grads = _quiet(module.forward_backward, *[point[n] for n in module.INPUTS])
    check_vjp(forward, point, 1.0, dict(zip(module.WRT, grads, strict=True)))


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_scalar_both_backends(backend: str) -> None:
    module = load("x: float\nf = where(x > 0, sqrt(x), 0)", options(backend))
    assert module.forward_backward(4.0) == (2.0, (0.25,))
    # at 0 the branch is not selected: its derivative 0.5 / 0 is never used
    value, (dx,) = _quiet(module.forward_backward, 0.0)
    assert (value, dx) == (0.0, 0.0)
    if backend == "numpy":  # math.sqrt(-1) raises in the forward statement itself
        value, (dx,) = _quiet(module.forward_backward, -1.0)
        assert (value, dx) == (0.0, 0.0)
    module = load("x: float\nf = where(x > 0, log(x), 0)", options(backend))
    if backend == "numpy":
        assert _quiet(module.forward_backward, 0.0) == (0.0, (0.0,))
    assert module.forward_backward(2.0) == (pytest.approx(np.log(2.0)), (0.5,))


def test_selected_branch_keeps_the_math() -> None:
    """sqrt'(0) is inf where sqrt(0) is selected, and for sqrt on its own."""
    module = load("x: float\nf = where(x >= 0, sqrt(x), 0)")
    assert _quiet(module.forward_backward, 0.0)[1][0] == np.inf
    module = load("x: float\nf = sqrt(x)")
    assert _quiet(module.forward_backward, 0.0)[1][0] == np.inf


def test_forward_modes() -> None:
    """jvp selects tangents (nothing to mask); hvp, forward over the masked reverse,
    gives 0 on the unselected side too."""
    source = "x: array[N]\nf = sum(where(x > 0, log(x), 0))"
    module = load(source, replace(Options(), mode=("grad", "jvp", "hvp")))
    ones = np.ones_like(X)
    _, tangent = _quiet(module.jvp, X, ones)
    want = np.sum(np.where(X > 0, 1 / np.where(X > 0, X, 1.0), 0.0))
    assert tangent == pytest.approx(want, rel=1e-14)
    _, _, (hv,) = _quiet(module.hvp, X, ones)
    np.testing.assert_allclose(
        hv, np.where(X > 0, -1 / np.where(X > 0, X, 1.0) ** 2, 0.0), rtol=1e-15
    )


def test_guards_only_what_a_branch_alone_uses() -> None:
    program = linearize(
        parse("x: array[N]\nt = log(x)\nu = exp(x)\nf = sum(where(x > 0, t, u) + u)")
    )
    guards = branch_guards(program)
    ((cond, first),) = guards["t"]
    assert first and set(guards) == {"t"}  # u is used outside the where


def test_header_note_only_with_where() -> None:
    with_where = compile_source("x: float\nf = where(x > 0, x, 0)", Options())
    without = compile_source("x: float\nf = relu(x)", Options())
    assert where_note(with_where.forward) == WHERE_CONVENTION
    assert where_note(without.forward) is None
