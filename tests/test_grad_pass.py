"""The front end writes ``grad(y, x)`` as one statement; ``grad_pass.expand_grads``
expands it after linearize.  The values and gradients of such programs are checked
against SymPy, central differences and PyTorch in ``test_grad_in_programs.py``; here:
what each stage writes, the names, and the recorded gradient names."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

from codegen.generate import Options, compile_source
from codegen.grad_pass import expand_grads
from codegen.ir import Op
from codegen.linearize import linearize
from codegen.parse import parse
from codegen.symbolic import to_sympy
from codegen.trace import gradient_names


def _prims(program) -> list[str]:
    return [s.expr.prim for s in program.stmts if isinstance(s.expr, Op)]


def test_linearize_writes_one_grad_statement_and_the_pass_expands_it() -> None:
    source = "f = x*x*y; g = grad(f, x); out = sin(g * x) * (g * x)"
    flat = linearize(parse(source, "<test>"))
    (grad,) = [
        s for s in flat.stmts if isinstance(s.expr, Op) and s.expr.prim == "grad"
    ]
    assert grad.target == "g"
    assert [a.name for a in grad.expr.args] == ["f", "x"]
    assert not any(s.target.startswith("df_") for s in flat.stmts)
    expanded = expand_grads(flat)
    assert "grad" not in _prims(expanded)
    targets = [s.target for s in expanded.stmts]
    assert "df_dx" in targets and "df_df" in targets
    # g = df_dx: the gradient of x*x*y with respect to x
    x, y = (sym for sym in sorted(to_sympy(expanded)["f"].free_symbols, key=str))
    assert (to_sympy(expanded)["g"] - 2 * x * y).expand() == 0


@pytest.mark.parametrize(
    "source",
    [
        "f = x*x*y; g = grad(f, x); out = sin(g * x) * (g * x) + exp(x * y)",
        "f = x*x*y; out = grad(f, x) * grad(f, x) + tanh(x * y) * (x * y)",
        "t3 = x*y; f = t3*t3*x; g = grad(f, x); t1 = g*g; out = t1 + sin(g*x) * (g*x)",
        "f = sin(x) * exp(y); g = grad(f, y); h = grad(g, x); out = h * g + h * x",
    ],
)
def test_temporaries_are_numbered_in_program_order(source: str) -> None:
    """The builder names temporaries after a grad statement provisionally; the
    pass names them after the statements it writes, in order, none left over."""
    flat = expand_grads(linearize(parse(source, "<test>")))
    user = set(re.findall(r"\b(t\d+)\s*=", source))
    temps = [
        int(s.target[1:])
        for s in flat.stmts
        if re.fullmatch(r"t\d+", s.target) and s.target not in user
    ]
    assert temps == sorted(temps) and len(set(temps)) == len(temps)
    assert len(temps) >= 3
    names = {s.target for s in flat.stmts} | set(flat.types)
    assert not any(n.startswith("_") for n in names)


def test_two_equal_grad_calls_are_expanded_each() -> None:
    """grad statements are never shared as equal values are: each is a backward."""
    flat = expand_grads(linearize(parse("f = x*x*y; out = grad(f, x) * grad(f, x)")))
    seeds = [s for s in flat.stmts if s.origin is not None and s.origin.kind == "inner"]
    assert len(seeds) == 2


def test_the_front_end_imports_no_differentiation() -> None:
    code = (
        "import sys; import codegen.linearize; "
        "print(sorted(m for m in sys.modules if m in "
        "('codegen.reverse', 'codegen.passes', 'codegen.transforms', "
        "'codegen.grad_pass')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_the_vjp_records_each_values_gradient_name() -> None:
    compiled = compile_source("a = x*y; f = a + x", Options(inputs=("x", "y")))
    assert dict(compiled.vjp.gradients) == {"f": "df", "a": "da", "x": "dx", "y": "dy"}
    # dx is the user's: the gradient of x gets the namer's fallback
    clash = compile_source("dx = x*2; f = dx*x", Options())
    assert clash.vjp.gradients["x"] == "d_x"
    assert gradient_names(clash)["dx"] == "ddx"
    # a value no differentiated input reaches has none
    partial = compile_source("a = y*y; f = a*x", Options(inputs=("x", "y"), wrt=("x",)))
    assert "a" not in partial.vjp.gradients and "y" not in partial.vjp.gradients
    assert partial.vjp.gradients["x"] == "dx"
