"""Reverse mode maps a flat program to a flat program of the same kind, so (after
``transforms.prepare``) it can be differentiated again: Hessian rows agree with
``sympy.diff`` applied twice."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import sympy
from oracles import symbolic_close, sympy_at

from codegen.generate import Options, compile_source
from codegen.ir import Op, Program, Stmt, Var
from codegen.reverse import reverse
from codegen.symbolic import to_sympy
from codegen.transforms import flatten, prepare, ssa

SOURCES = [
    "sin(x) * exp(x*y) + x**3 / y",
    "sigmoid(x*y) + tanh(x - y)",
    "log(x*x + y*y) * sqrt(x + 3)",
    "a = x*y; b = a*a + x; f = b / (y + 2)",
    "exp(-x) * cos(y) + x*x*x*y",
]


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("source", SOURCES)
def test_hessian_rows_match_sympy(source: str, backend: str) -> None:
    compiled = compile_source(source, Options(backend=backend, inputs=("x", "y")))
    f = to_sympy(compiled.forward)[compiled.forward.outputs[0]]
    x, y = (sympy.Symbol(n, real=True) for n in ("x", "y"))
    rng = random.Random(source)
    for k, (primal, grad) in enumerate(
        zip(("x", "y"), compiled.reverse.outputs[1:], strict=True)
    ):
        once = prepare(replace(compiled.reverse, outputs=(grad,)))
        second = reverse(once, ("x", "y"), level=2).joined()
        assert second.outputs[1:] == ("d2x", "d2y")
        env = to_sympy(second)
        ones = {sympy.Symbol(n, real=True): 1 for n in second.inputs[2:]}
        for _ in range(3):
            point = {x: rng.uniform(0.3, 1.5), y: rng.uniform(0.3, 1.5)}
            for name, var in zip(second.outputs[1:], (x, y), strict=True):
                got = sympy_at(env[name].subs(ones), point)
                want = sympy_at(sympy.diff(f, (x, y)[k], var), point)
                assert symbolic_close(got, want), (primal, var, got, want)


def test_reverse_refuses_programs_that_are_not_flat() -> None:
    nested = Program(
        ("x",),
        (Stmt("f", Op("mul", (Op("add", (Var("x"), Var("x"))), Var("x")))),),
        ("f",),
    )
    with pytest.raises(ValueError, match="flat"):
        reverse(nested)
    accumulating = Program(
        ("x",),
        (Stmt("f", Var("x")), Stmt("f", Var("x"), accumulate=True)),
        ("f",),
    )
    with pytest.raises(ValueError, match="flat"):
        reverse(accumulating)


def test_ssa_and_flatten_keep_the_meaning() -> None:
    compiled = compile_source("x*y + sin(x)*x", Options(backend="math"))
    before = to_sympy(compiled.reverse)
    after_program = flatten(ssa(compiled.reverse))
    after = to_sympy(after_program)
    for old, new in zip(compiled.reverse.outputs, after_program.outputs, strict=True):
        assert sympy.simplify(before[old] - after[new]) == 0
    seen: set[str] = set(after_program.inputs)
    for stmt in after_program.stmts:
        assert stmt.target not in seen and not stmt.accumulate
        seen.add(stmt.target)
        if isinstance(stmt.expr, Op):
            assert not any(isinstance(a, Op) for a in stmt.expr.args)
