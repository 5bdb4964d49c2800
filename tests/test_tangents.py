"""Forward mode: every tangent rule agrees with sympy.diff of its primitive's meaning
(the same check as the reverse rules), and the JVP transform of whole programs equals
J·v from SymPy."""

from __future__ import annotations

import itertools
import random

import pytest
import sympy
from oracles import symbolic_close, sympy_at
from test_rules import CASES, DOMAINS, POINTS_PER_RULE, _uniform

from codegen.forward_mode import jvp
from codegen.generate import Options, compile_source
from codegen.ir import Var
from codegen.primitives import PRIMITIVES
from codegen.symbolic import expr_to_sympy, to_sympy


def test_every_primitive_has_a_tangent_rule() -> None:
    assert all(callable(p.jvp) for p in PRIMITIVES.values())


@pytest.mark.parametrize(("prim", "n"), CASES, ids=[f"{p}-{n}" for p, n in CASES])
def test_tangent_rule_matches_sympy_diff(prim: str, n: int) -> None:
    args = [sympy.Symbol(f"a{i}", real=True) for i in range(n)]
    dots = [sympy.Symbol(f"t{i}", real=True) for i in range(n)]
    out = PRIMITIVES[prim].meaning(*args)
    env: dict[str, sympy.Expr] = {"out": out}
    env.update({f"a{i}": a for i, a in enumerate(args)})
    env.update({f"t{i}": t for i, t in enumerate(dots)})
    rule = PRIMITIVES[prim].jvp
    rng = random.Random(f"tangent-{prim}-{n}")
    sampler = DOMAINS.get(prim, _uniform(-3.0, 3.0))
    arg_vars = tuple(Var(f"a{i}") for i in range(n))
    # every pattern of zero / nonzero argument tangents
    for mask in itertools.product((False, True), repeat=n):
        given = tuple(Var(f"t{i}") if m else None for i, m in enumerate(mask))
        tangent = rule(given, Var("out"), arg_vars)
        for _ in range(POINTS_PER_RULE):
            values = sampler(rng, n)
            subs = dict(zip(args, values, strict=True))
            subs.update({t: rng.uniform(-2.0, 2.0) for t in dots})
            want_expr = sum(
                (
                    sympy.diff(out, a) * t
                    for a, t, m in zip(args, dots, mask, strict=True)
                    if m
                ),
                sympy.Integer(0),
            )
            want = sympy_at(want_expr, subs)
            if tangent is None:
                assert want == 0.0, (prim, mask, values)
                continue
            got = sympy_at(expr_to_sympy(tangent, env), subs)
            assert symbolic_close(got, want), (prim, mask, values, got, want)


PROGRAMS = [
    "sin(x) * exp(x*y) + x**3 / y",
    "sigmoid(x*y) + tanh(x - y)",
    "log(x*x + y*y) * sqrt(x + 3)",
    "a = x*y; b = a*a + x; f = b / (y + 2)",
    "exp(-x) * cos(y) + x*x*x*y",
    "max(x, y) * relu(x - 0.5) + abs(y)",
    "x ** y + 2 ** x",
]


@pytest.mark.parametrize("source", PROGRAMS)
def test_jvp_of_a_program_is_j_times_v(source: str) -> None:
    compiled = compile_source(source, Options(backend="math", inputs=("x", "y")))
    result = jvp(compiled.forward)
    assert result.tangents_in == ("x_dot", "y_dot")
    env = to_sympy(result.program)
    f = to_sympy(compiled.forward)[compiled.forward.outputs[0]]
    x, y, xd, yd = sympy.symbols("x y x_dot y_dot", real=True)
    (tangent,) = result.tangents_out
    rng = random.Random(source)
    for _ in range(4):
        point = {
            x: rng.uniform(0.6, 1.6),
            y: rng.uniform(0.6, 1.6) + 0.3,
            xd: rng.uniform(-1, 1),
            yd: rng.uniform(-1, 1),
        }
        want = sympy_at(sympy.diff(f, x) * xd + sympy.diff(f, y) * yd, point)
        got = sympy_at(env[tangent], point)
        assert symbolic_close(got, want), (source, got, want)


def test_tangent_statements_follow_their_statements() -> None:
    compiled = compile_source("q = y*z; f = x + q", Options(inputs=("x", "y", "z")))
    result = jvp(compiled.forward)
    targets = [s.target for s in result.program.stmts]
    assert targets == ["q", "q_dot", "f", "f_dot"]
    assert result.program.inputs[-3:] == ("x_dot", "y_dot", "z_dot")


def test_an_output_without_tangent_gets_zeros() -> None:
    compiled = compile_source("f = exp(y) + x", Options(inputs=("x", "y")))
    result = jvp(compiled.forward, ("x",))
    env = to_sympy(result.program)
    assert env[result.tangents_out[0]] == sympy.Symbol("x_dot", real=True)
    none = jvp(compile_source("f = 2 * y", Options(inputs=("x", "y"))).forward, ("x",))
    assert none.program.stmts[-1].expr.prim == "zeros_like"
