"""Stage tests of reverse mode, its passes, liveness and naming: no template, no CLI.

The meaning of every result is checked against SymPy (``to_sympy`` of the programs)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sympy

from codegen import passes
from codegen.backends import BACKENDS
from codegen.generate import Options, compile_source
from codegen.ir import Const, Op, Origin, Program, Stmt, Var
from codegen.liveness import live_names, prune, reads
from codegen.module import build_view
from codegen.naming import RESERVED, Namer
from codegen.render import render
from codegen.reverse import reverse
from codegen.symbolic import to_sympy
from codegen.targets import TARGETS
from codegen.transforms import prepare


def _program(*stmts: tuple[str, Op | Var], inputs=("x", "y"), outputs=None) -> Program:
    body = tuple(Stmt(t, e) for t, e in stmts)
    return Program(inputs, body, outputs or (body[-1].target,))


X, Y = Var("x"), Var("y")


def test_vjp_is_structured() -> None:
    # q = x * y; u = sin(q); f = u + x
    program = _program(
        ("q", Op("mul", (X, Y))),
        ("u", Op("sin", (Var("q"),))),
        ("f", Op("add", (Var("u"), X))),
    )
    vjp = reverse(program)
    assert vjp.primal is program
    assert vjp.cotangents == ("df",)
    assert vjp.wrt == ("x", "y")
    assert vjp.grads == ("dx", "dy")
    # the backward reads q (for cos(q)), x and y (mul swaps them), never u or f
    assert vjp.residuals == ("x", "y", "q")
    assert vjp.backward.inputs == ("x", "y", "q", "df")
    assert vjp.backward.outputs == ("dx", "dy")
    assert set(reads(vjp.stmts)) == {"x", "y", "q", "df"}
    # every backward statement says which forward statement it undoes
    for stmt in vjp.stmts:
        assert stmt.origin is not None and stmt.origin.kind == "undo"
        assert stmt.origin.stmt in program.stmts
    env = to_sympy(vjp.joined())
    x, y = sympy.symbols("x y", real=True)
    df = sympy.Symbol("df", real=True)
    f = sympy.sin(x * y) + x
    assert sympy.simplify(env["dx"] - df * sympy.diff(f, x)) == 0
    assert sympy.simplify(env["dy"] - df * sympy.diff(f, y)) == 0


def test_reverse_is_pure_and_refuses_bad_wrt_as_a_bug() -> None:
    program = _program(("f", Op("mul", (X, Y))))
    with pytest.raises(ValueError, match="wrt"):
        reverse(program, ("z",))
    with pytest.raises(ValueError, match="wrt"):
        reverse(program, ("x", "x"))


def test_several_outputs_get_one_cotangent_each() -> None:
    # u = x * y; v = x + y: the sweep is du * J_u + dv * J_v
    program = _program(
        ("u", Op("mul", (X, Y))), ("v", Op("add", (X, Y))), outputs=("u", "v")
    )
    vjp = reverse(program)
    assert vjp.cotangents == ("du", "dv")
    env = to_sympy(vjp.joined())
    x, y, du, dv = sympy.symbols("x y du dv", real=True)
    assert sympy.expand(env["dx"] - (du * y + dv)) == 0
    assert sympy.expand(env["dy"] - (du * x + dv)) == 0


def test_an_input_the_output_ignores_gets_a_zero_gradient() -> None:
    program = _program(("f", Op("exp", (X,))))
    vjp = reverse(program, ("x", "y"))
    last = vjp.stmts[-1]
    assert last.target == "dy" and last.expr == Op("zeros_like", (Y,))
    assert last.origin == Origin("zero", names=("f", "y"))


def test_passes_compose_per_backend() -> None:
    program = _program(("f", Var("x")), inputs=("x",))
    raw = reverse(program)
    # dx = df: the caller's array handed back unless it was replaced first
    copied = passes.copy_aliases(raw, BACKENDS["numpy"].views, fresh_upstream=False)
    (stmt,) = copied.backward.stmts
    # the caller's upstream may be a number: the copy is spelled for both (+df)
    assert stmt.expr == Op("copy", (Var("df"),), (("caller", True),))
    seeded = passes.seed_upstream(raw, "broadcast")
    first = seeded.backward.stmts[0]
    assert first.target == "df" and first.origin.kind == "upstream"
    kept = passes.copy_aliases(seeded, BACKENDS["numpy"].views, fresh_upstream=True)
    assert kept.backward.stmts == seeded.backward.stmts


def test_share_names_the_quotient_once() -> None:
    # f = x / y + x: dx accumulates dz / y, and dy reuses it
    program = _program(("z", Op("div", (X, Y))), ("f", Op("add", (Var("z"), X))))
    namer = Namer(["x", "y", "z", "f"])
    vjp = passes.share(reverse(program, namer=namer), namer)
    targets = [s.target for s in vjp.stmts]
    assert "dx_part" in targets
    part = vjp.stmts[targets.index("dx_part")]
    assert part.expr == Op("div", (Var("dz"), Y))
    env = to_sympy(vjp.joined())
    x, y, df = sympy.symbols("x y df", real=True)
    assert sympy.simplify(env["dy"] - df * (-x / y**2)) == 0
    assert sympy.simplify(env["dx"] - df * (1 / y + 1)) == 0


def test_liveness() -> None:
    program = _program(
        ("a", Op("exp", (X,))),
        ("b", Op("sin", (Y,))),
        ("f", Op("mul", (Var("a"), Const.of(2)))),
    )
    assert live_names(program.stmts, ["f"]) == {"f", "a", "x"}
    assert [s.target for s in prune(program).stmts] == ["a", "f"]
    accumulating = (Stmt("g", X, accumulate=True), Stmt("h", Var("g")))
    assert reads(accumulating) == ["x", "g"]


def test_namer_roles_levels_and_clashes() -> None:
    namer = Namer(["x", "dx", "y"])
    assert namer.grad("y") == "dy"
    assert namer.grad("x") == "d_x"  # dx is a user name
    assert namer.grad("x") == "d_x"  # memoized
    assert namer.grad("x", level=2) == "d2x"
    assert namer.grad("dy", level=2) == "d2dy"
    assert namer.tangent("x") == "x_dot"
    assert namer.fresh("d_x") == "d_x_2"
    assert namer.temp() == "t1"
    reserved = Namer(["x"], reserved={"dx"})
    assert reserved.grad("x") == "d_x"


def test_reserved_names_are_those_of_the_flat_target_and_backends() -> None:
    union = set(TARGETS["flat"].names("layer")) | {"pi"}
    for backend in BACKENDS.values():
        union |= backend.reserved
    assert union == set(RESERVED)


def test_second_order_comments_head_their_blocks() -> None:
    """After prepare (flatten mints temporaries inside a block), a block's comment
    still prints above its first statement, not after the temporaries."""
    compiled = compile_source("f = sigmoid(x * y)", Options(backend="math"))
    namer = Namer(
        [*compiled.reverse.inputs, *(s.target for s in compiled.reverse.stmts)]
    )
    once = prepare(replace(compiled.reverse, outputs=("dx",)))
    second = reverse(once, ("x", "y"), namer=namer, level=2)
    flat = prepare(second.joined())
    # the statements of each block are contiguous: an origin never comes back
    seen: list[object] = []
    for stmt in flat.stmts:
        if stmt.origin is None:
            continue
        if not seen or seen[-1] is not stmt.origin and seen[-1] != stmt.origin:
            assert stmt.origin not in seen, stmt
            seen.append(stmt.origin)


def test_module_comments_come_from_origins() -> None:
    compiled = compile_source("q = y*z; f = x + q", Options(inputs=("x", "y", "z")))
    text = render(build_view(compiled, "q = y*z; f = x + q", "test"))
    assert "# f = x + q  (add gate: distributes the gradient)" in text
    assert "# q = y * z  (mul gate: swaps the inputs)" in text
    assert "# the upstream gradient df, shaped like f" in text
