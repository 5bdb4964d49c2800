"""Large inputs generate without recursion errors and still compute the right thing.
(No timing assertions: speed is measured by the benchmark script, not by tests.)"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from conftest import REPO, load, options
from oracles import (
    central_difference,
    fd_close,
    grads_tuple,
    oracle,
    sympy_close,
)

from codegen import formatting
from codegen.evaluate import load_module
from codegen.generate import generate
from codegen.parse import MAX_TOKENS

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


WIDE = 20_000


def test_a_sum_of_twenty_thousand_distinct_inputs_without_black(monkeypatch) -> None:
    # the def lines, INPUTS, WRT, SHAPES and Grads(...) are 20,000 items long: they
    # are exploded without black (formatting.exploded); black here would be a bug
    def no_black(*args: object, **kwargs: object) -> str:
        raise AssertionError("a long list was handed to black")

    monkeypatch.setattr(formatting.black, "format_str", no_black)
    names = [f"x{i}" for i in range(WIDE)]
    source = " + ".join(names)
    text = generate(source, options("numpy"))
    assert f"    {names[-1]},\n" in text  # one item a line, black's trailing comma
    module = load_module(text)
    assert module.INPUTS == tuple(names)
    args = [1.0 + (i % 7) / 8 for i in range(WIDE)]
    value, grads = module.forward_backward(*args)
    want = math.fsum(args)  # exact: multiples of 1/8 far below 2**53
    assert float(value) == want and float(module.forward(*args)) == want
    assert grads._fields == tuple(names)
    for i in (0, 1, WIDE // 2, WIDE - 1):  # d/dx_i of a sum, against the oracle
        fd = central_difference(module.forward, args, i)
        assert fd_close(fd, float(grads[i]), want)
        assert float(grads[i]) == 1.0


def test_a_million_term_sum_is_refused_at_once(tmp_path: Path) -> None:
    # one line, exit status 2, nothing written: 2,000,000 tokens is past MAX_TOKENS
    src = tmp_path / "sum.bp"
    dst = tmp_path / "out.py"
    src.write_text(" + ".join(f"x{i}" for i in range(1_000_000)) + "\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "-f", str(src), "-o", str(dst)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 2 and not dst.exists()
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{src}: input too large: more than {MAX_TOKENS:,} tokens" in proc.stderr
