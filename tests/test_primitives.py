"""The primitive records: every trait a stage reads is derived from them, the traits
hold for each record, and the defects that two drifting copies of a fact caused stay
fixed (a trait missing from one table, a rule that lost digits)."""

from __future__ import annotations

import ast
import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy
from conftest import load, options
from oracles import central_difference

from codegen.errors import BackpropgenError, InputError
from codegen.generate import compile_source
from codegen.ir import SCALAR, Type, Var
from codegen.primitives import (
    ELEMENTWISE,
    FUNCTIONS,
    NUMERIC_AT_CONSTANTS,
    PRIMITIVES,
    ZERO_PRESERVING,
)
from codegen.symbolic import expr_to_sympy
from codegen.typecheck import infer

CODEGEN = Path(__file__).resolve().parent.parent / "codegen"

# --- the records are the one place ------------------------------------------------


def _name_sets(tree: ast.AST) -> list[tuple[int, set[str]]]:
    """Literal sets of two or more strings in a module: ``frozenset({"a", "b"})``,
    ``frozenset("a b".split())``, ``{"a", "b"}``."""
    found: list[tuple[int, set[str]]] = []
    for node in ast.walk(tree):
        items: set[str] = set()
        if isinstance(node, ast.Set):
            items = {e.value for e in node.elts if isinstance(e, ast.Constant)}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "frozenset"
            and node.args
        ):
            arg = node.args[0]
            if isinstance(arg, ast.Set | ast.List | ast.Tuple):
                items = {e.value for e in arg.elts if isinstance(e, ast.Constant)}
            elif (
                isinstance(arg, ast.Call)
                and isinstance(arg.func, ast.Attribute)
                and isinstance(arg.func.value, ast.Constant)
            ):
                items = set(str(arg.func.value.value).split())
        if len(items) >= 2:
            found.append((getattr(node, "lineno", 0), items))
    return found


def test_no_stage_keeps_its_own_list_of_primitive_names() -> None:
    """Trait sets are derived from the records: a literal set of primitive names
    anywhere else is a copy that can drift (logaddexp was missing from one)."""
    names = set(PRIMITIVES)
    copies = []
    for path in sorted(CODEGEN.glob("*.py")):
        if path.name == "primitives.py":
            continue
        for line, items in _name_sets(ast.parse(path.read_text())):
            if isinstance(items, set) and all(isinstance(i, str) for i in items):
                if items <= names:
                    copies.append(f"{path.name}:{line}: {sorted(items)}")
    assert copies == []


def test_every_user_function_is_a_record_or_a_composite() -> None:
    for name, signature in FUNCTIONS.items():
        low, high, keywords = signature
        assert 0 < low and (high is None or high >= low), name
        if name in PRIMITIVES:
            record = PRIMITIVES[name]
            assert record.user == signature


def test_array_primitives_are_exactly_those_without_a_meaning() -> None:
    for record in PRIMITIVES.values():
        assert record.array == (record.meaning is None), record.name


@pytest.mark.parametrize("prim", sorted(ELEMENTWISE))
def test_elementwise_primitives_broadcast(prim: str) -> None:
    """An elementwise record's shape rule broadcasts a vector against a number, in
    every argument position (so reverse mode un-broadcasts its gradients)."""
    record = PRIMITIVES[prim]
    arity = 2 if record.arity < 0 else record.arity
    vector = Type("float", ("N",))
    for position in range(arity):
        types = [SCALAR] * arity
        types[position] = vector
        args = tuple(Var(f"a{i}") for i in range(arity))
        result = infer(prim, types, {}, "in 'test'", "<test>", args)
        assert result.shape == ("N",), (prim, position)


@pytest.mark.parametrize("prim", sorted(ZERO_PRESERVING))
def test_zero_preserving_rules_give_zero_for_a_zero_gradient(prim: str) -> None:
    """Whatever the arguments, a zero gradient in gives zero contributions out."""
    record = PRIMITIVES[prim]
    arity = 2 if record.arity < 0 else record.arity
    args = [sympy.Symbol(f"a{i}", real=True) for i in range(arity)]
    env: dict[str, sympy.Expr] = {f"a{i}": a for i, a in enumerate(args)}
    env["g"] = sympy.Integer(0)
    env["out"] = record.meaning(*args)  # type: ignore[misc]
    rng = random.Random(prim)
    contributions = record.vjp(
        Var("g"), Var("out"), tuple(Var(f"a{i}") for i in range(arity))
    )
    for contribution in contributions:
        if contribution is None:
            continue
        value = expr_to_sympy(contribution, env)
        for _ in range(5):
            point = {a: rng.choice([-2.5, -1.0, 0.5, 3.0]) for a in args}
            assert float(value.subs(point)) == 0.0, (prim, contribution)


def test_float_functions_of_constants_are_checked_numerically() -> None:
    """Every elementwise float function with a meaning is checked at constants."""
    for record in PRIMITIVES.values():
        if record.user and record.elementwise and record.dtype == "float":
            assert record.name in NUMERIC_AT_CONSTANTS, record.name


# --- the defects of drift ------------------------------------------------------------


def test_logaddexp_broadcasts_and_its_scalar_gradient_is_a_number() -> None:
    """``db`` of ``sum(logaddexp(a, b))`` with ``b`` a number is a number (it came
    back shaped (N,): logaddexp was missing from the elementwise list)."""
    module = load("a: array[N]\nb: float\nf = sum(logaddexp(a, b))", options())
    a = np.array([-1.0, 0.5, 2.0])
    b = 0.3
    f, grads = module.forward_backward(a, b, 1.0)
    assert np.shape(grads.b) == ()
    want = central_difference(lambda v: float(np.sum(np.logaddexp(a, v))), [b], 0)
    assert math.isclose(float(grads.b), want, rel_tol=1e-6)
    np.testing.assert_allclose(grads.a, 1 / (1 + np.exp(b - a)), rtol=1e-12)


def test_where_masks_a_stable_function_in_the_unselected_branch() -> None:
    """``where(x > 0, softplus(log(x)), 0)`` at x = -1: gradient 0, as the README's
    where convention promises (it was nan: softplus was not elementwise there)."""
    module = load("x: float\nf = where(x > 0, softplus(log(x)), 0)", options())
    with np.errstate(invalid="ignore"):
        _, grads = module.forward_backward(np.float64(-1.0), 1.0)
    assert float(grads.x) == 0.0
    _, grads = module.forward_backward(np.float64(2.0), 1.0)
    want = (1 / (1 + math.exp(-math.log(2.0)))) / 2.0  # sigmoid(log x) / x
    assert math.isclose(float(grads.x), want, rel_tol=1e-12)


@pytest.mark.parametrize(
    "source", ["x*log1p(-1)", "x*expm1(1000)", "x*softplus(1000)*exp(800)"]
)
def test_stable_functions_of_constants_that_are_not_finite_are_refused(
    source: str,
) -> None:
    """``x*log1p(-1)`` generated a module that returned -inf on every call, while
    ``x*log(0)`` was refused: the stable functions are checked at constants too."""
    with pytest.raises(InputError, match="is not a finite real float"):
        compile_source(source, options())


def test_finite_stable_functions_of_constants_still_generate() -> None:
    module = load("x*log1p(1) + softplus(2)*x", options(backend="math"))
    f, grads = module.forward_backward(2.0)
    want = math.log1p(1) + math.log1p(math.exp(2))
    assert math.isclose(grads.x, want, rel_tol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("size", [1e15, 1e17, -1e300])
def test_logaddexp_gradients_share_one_exactly_at_large_equal_inputs(
    backend: str, size: float
) -> None:
    """At a = b the gradients are 1/2 each and sum to 1 (the rule exp(a - out) gave
    0.4724 at 1e15 and 1.0 each at 1e17: out had lost its low bits)."""
    module = load("logaddexp(a, b)", options(backend=backend))
    _, grads = module.forward_backward(size, size)
    assert float(grads.a) == 0.5 and float(grads.b) == 0.5


def test_logaddexp_tangent_matches_its_gradient_at_large_inputs() -> None:
    opts = replace(options(backend="math"), mode=("grad", "jvp"))
    module = load("logaddexp(a, b)", opts)
    _, tangent = module.jvp(1e15, 1e15 + 0.5, 1.0, 1.0)
    assert tangent == 1.0
    _, tangent = module.jvp(1e15, 1e15, 1.0, 0.0)
    assert tangent == 0.5


def test_missing_record_is_a_clear_error() -> None:
    from codegen.primitives import primitive

    with pytest.raises(BackpropgenError, match="no record for primitive 'erf'"):
        primitive("erf")
