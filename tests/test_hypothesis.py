"""Random expression trees through the whole pipeline: generate -> load -> evaluate,
compared with sympy.diff and central finite differences."""

from __future__ import annotations

import math

from conftest import BACKENDS, load, options
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracles import (
    KINK_MARGIN,
    central_difference,
    fd_close,
    grads_tuple,
    oracle,
    sympy_close,
)

NAMES = ("x", "y", "z")
CONSTANTS = ("0.5", "2", "3", "1e-3", "2.5", "pi")
#: values beyond this are not a fair test of float round-off (nor of FD steps)
LIMIT = 1e6

# functions with a restricted domain get arguments that are always inside it
UNARY = (
    "-({})",
    "exp({})",
    "sin({})",
    "cos({})",
    "tanh({})",
    "sigmoid({})",
    "relu({})",
    "abs({})",
    "log(1 + ({}) ** 2)",
    "sqrt(1 + ({}) ** 2)",
    "tan(tanh({}))",
)
BINARY = (
    "({}) + ({})",
    "({}) - ({})",
    "({}) * ({})",
    "({}) / (1 + ({}) ** 2)",
    "(1 + ({}) ** 2) ** sin({})",
    "max({}, {})",
    "min({}, {})",
)
TERNARY = ("max({}, {}, {})", "min({}, {}, {})")

leaves = st.sampled_from(NAMES) | st.sampled_from(CONSTANTS)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return (
        st.builds(str.format, st.sampled_from(UNARY), children)
        | st.builds(str.format, st.sampled_from(BINARY), children, children)
        | st.builds(str.format, st.sampled_from(TERNARY), children, children, children)
    )


expressions = st.recursive(leaves, _extend, max_leaves=10)
coordinates = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    source=expressions,
    backend=st.sampled_from(BACKENDS),
    values=st.tuples(coordinates, coordinates, coordinates),
)
def test_random_expressions_match_sympy_and_finite_differences(
    source: str, backend: str, values: tuple[float, float, float]
) -> None:
    opts = options(backend)
    orc = oracle(source, opts)
    point = dict(zip(NAMES, values, strict=True))
    assume(orc.kink_distance(point) > KINK_MARGIN)
    want_value, want_grads = orc.evaluate(point)
    assume(abs(want_value) < LIMIT and all(abs(g) < LIMIT for g in want_grads))
    module = load(source, opts)
    assert module.INPUTS == orc.inputs
    args = [point[n] for n in orc.inputs]
    value, grads = module.forward_backward(*args)
    assert math.isfinite(float(value))
    assert sympy_close(float(value), want_value)
    assert sympy_close(float(module.forward(*args)), want_value)
    for i, (got, want) in enumerate(zip(grads_tuple(grads), want_grads, strict=True)):
        assert sympy_close(got, want), (orc.inputs[i], got, want)
        fd = central_difference(module.forward, args, i)
        assert fd_close(fd, got, want_value), (orc.inputs[i], got, fd)
