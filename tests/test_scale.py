"""Large inputs generate without recursion errors and still compute the right thing.
(No timing assertions: speed is measured by the benchmark script, not by tests.)"""

from __future__ import annotations

import math

from conftest import load, options
from oracles import (
    central_difference,
    fd_close,
    grads_tuple,
    oracle,
    sympy_close,
)

N = 20_000


def _chain() -> str:
    """v0 = x * y, then v_i = v_(i-1) + sin(x) or v_(i-1) - y: 20,000 statements."""
    lines = ["v0 = x * y"]
    for i in range(1, N):
        lines.append(f"v{i} = v{i - 1} + sin(x)" if i % 2 else f"v{i} = v{i - 1} - y")
    return "\n".join(lines)


def test_twenty_thousand_chained_statements() -> None:
    source = _chain()
    assert source.count("\n") == N - 1
    opts = options("numpy", format="fast")
    module = load(source, opts)
    assert module.INPUTS == ("x", "y")
    point = {"x": 0.3, "y": -0.7}
    args = [point["x"], point["y"]]
    value, grads = module.forward_backward(*args)
    orc = oracle(source, opts)  # SymPy keeps the chain flat: c1*x*y + c2*sin(x) + c3*y
    want_value, want_grads = orc.evaluate(point)
    assert sympy_close(float(value), want_value)
    assert float(module.forward(*args)) == float(value)
    for i, (got, want) in enumerate(zip(grads_tuple(grads), want_grads, strict=True)):
        assert sympy_close(got, want)
        assert fd_close(central_difference(module.forward, args, i), got, want_value)


def _terms() -> list[tuple[int, str]]:
    return [(k, "x" if k % 2 else "y") for k in range(1, N + 1)]


def test_a_sum_of_twenty_thousand_terms_on_one_line() -> None:
    terms = _terms()
    source = " + ".join(f"{k}*{name}" for k, name in terms)
    assert "\n" not in source and source.count("+") == N - 1
    module = load(source, options("numpy", format="fast"))
    assert module.INPUTS == ("x", "y")
    point = {"x": 0.5, "y": -1.25}
    args = [point["x"], point["y"]]
    value, grads = module.forward_backward(*args)
    # the oracle: the sum itself, term by term (exact in floats: integers * 2**-k)
    want = math.fsum(k * point[name] for k, name in terms)
    assert float(value) == want
    assert float(module.forward(*args)) == want
    for i, got in enumerate(grads_tuple(grads)):
        fd = central_difference(module.forward, args, i)
        assert fd_close(fd, got, want)
