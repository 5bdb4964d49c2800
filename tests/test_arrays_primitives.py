"""Every array primitive, in small programs written for the test: central finite
differences of the vector-Jacobian product, the dot-product identity, gradient shapes,
for several shape bindings (generic sizes, all ones, each axis alone of size 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from array_helpers import bindings, build, check_program, concrete, sample, seed_of

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    labels: dict = field(default_factory=dict)
    positive: tuple[str, ...] = ()


CASES: list[Case] = []


def case(id: str, source: str, labels=None, positive=()) -> None:
    CASES.append(Case(id, source, labels or {}, tuple(positive)))


# --- '@' in all four rank combinations ----------------------------------------------
case("matmul", "A: array[N, D]\nB: array[D, M]\nf = A @ B")
case("matvec", "A: array[N, D]\nv: array[D]\nf = A @ v")
case("vecmat", "v: array[D]\nB: array[D, M]\nf = v @ B")
case("dot", "a: array[D]\nb: array[D]\nf = a @ b")
case("dot_scaled", "a: array[D]\nb: array[D]\nf = (a @ b) * a")
case("matmul_chain", "A: array[N, D]\nB: array[D, M]\nC: array[M, K]\nf = A @ B @ C")
case("matvec_into_dot", "A: array[N, D]\nv: array[D]\nu: array[N]\nf = u @ (A @ v)")
case("vecmat_T", "v: array[N]\nA: array[N, D]\nf = A.T @ v")

# --- elementwise + - * / ** with broadcasting ---------------------------------------
PATTERNS = {
    "scalar_array": ("a: float", "b: array[N, D]"),
    "array_scalar": ("a: array[N, D]", "b: float"),
    "col_row": ("a: array[N, 1]", "b: array[1, D]"),
    "vec_mat": ("a: array[D]", "b: array[N, D]"),
    "mat_vec": ("a: array[N, D]", "b: array[D]"),
    "same": ("a: array[N, D]", "b: array[N, D]"),
    "rank3": ("a: array[N, 1, D]", "b: array[K, 1]"),
    "one_vec": ("a: array[1]", "b: array[N]"),
    "col_mat": ("a: array[N, 1]", "b: array[N, D]"),
    "ones": ("a: array[1, 1]", "b: array[1]"),
}
OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
for pname, (da, db) in PATTERNS.items():
    for oname, sym in OPS.items():
        positive = ("a",) if oname == "pow" else ("b",) if oname == "div" else ()
        case(f"{oname}_{pname}", f"{da}\n{db}\nf = a {sym} b", positive=positive)
case("pow_const", "a: array[N, D]\nf = a**3 + 2**a - a ** 0.5", positive=("a",))
case("const_ops", "a: array[N, D]\nf = 1 / a - 3 * a + (2 - a) / 4", positive=("a",))
case("neg", "a: array[N]\nb: array[N, 1]\nf = -a * b")

# --- scalar functions, broadcast ----------------------------------------------------
FUNCS = "exp log sqrt sin cos tan tanh sigmoid abs relu".split()
for fn in FUNCS:
    case(
        f"fn_{fn}",
        f"a: array[N, 1]\nb: array[D]\nf = {fn}(a) * b + {fn}(b)",
        positive=("a", "b") if fn in ("log", "sqrt") else (),
    )
case("fn_nested", "a: array[N, D]\nb: array[D]\nf = tanh(exp(sin(a) + b) * sigmoid(b))")

# --- maximum / minimum --------------------------------------------------------------
case("relu_left", "A: array[N, D]\nW: array[D, M]\nf = maximum(0, A @ W)")
case("relu_right", "A: array[N, D]\nb: array[D]\nf = maximum(A + b, 0)")
case("relu_float_zero", "a: array[N]\nf = maximum(0.0, a)")
case("minimum_zero", "a: array[N, D]\nf = minimum(0, a)")
case("maximum_arrays", "a: array[N, D]\nb: array[N, D]\nf = maximum(a, b)")
case("maximum_broadcast", "a: array[N, 1]\nb: array[D]\nf = maximum(a, b)")
case("minimum_broadcast", "a: array[D]\nb: array[N, D]\nf = minimum(a, b)")
case("minimum_scalar", "a: array[N, D]\nx: float\nf = minimum(a, x)")
case("max_three", "a: array[N]\nb: array[N]\nc: array[N]\nf = max(a, b, c)")

# --- reductions: sum / mean / max / min over axis, keepdims ------------------------
AXES = {"none": None, "0": "0", "1": "1", "m1": "-1", "01": "(0, 1)"}
for red in ("sum", "mean", "max", "min"):
    for aname, axis in AXES.items():
        for keep in (False, True):
            options = "" if axis is None else f", axis={axis}"
            if keep:
                options += ", keepdims=True"
            case(
                f"{red}_axis{aname}_keep{int(keep)}",
                f"A: array[N, D]\nf = {red}(A{options}) * 2",
            )
case("sum_rank3_02", "A: array[N, D, K]\nf = sum(A, axis=(0, 2))")
case("mean_rank3_m2_keep", "A: array[N, D, K]\nf = mean(A, axis=-2, keepdims=True)")
case("max_rank3_m1", "A: array[N, D, K]\nf = max(A, axis=-1)")
case("center", "A: array[N, D]\nf = A - mean(A, axis=1, keepdims=True)")
case("normalise", "A: array[N, D]\nf = A / sum(A, axis=0)", positive=("A",))
case("vector_sum", "a: array[N]\nf = sum(a * a) + mean(a, axis=0)")
case("vector_max", "a: array[N]\nf = max(a) - min(a, axis=0, keepdims=True)")

# --- transpose, reshape -------------------------------------------------------------
case("dot_T", "A: array[N, D]\nB: array[N, M]\nf = A.T @ B")
case("transpose_fn", "A: array[N, D]\nB: array[D, N]\nf = transpose(A) * B")
case("T_vector", "a: array[N]\nf = a.T * a")
case("T_T", "A: array[N, D]\nf = A.T.T + A")
case("reshape_col", "a: array[N]\nB: array[N, D]\nf = reshape(a, N, 1) * B")
case("reshape_row", "a: array[D]\nB: array[N, D]\nf = reshape(a, 1, D) + B")
case("reshape_swap", "A: array[N, D]\nf = reshape(A, D, N) @ A")
case(
    "reshape_flat",
    "A: array[N, D]\nb: array[D]\nf = sum(reshape(A * b, 1, N, D), axis=1)",
)

# --- logsumexp, softmax, log_softmax ------------------------------------------------
for aname, axis in (("0", "0"), ("1", "1"), ("m1", "-1")):
    case(f"logsumexp_{aname}", f"A: array[N, D]\nf = logsumexp(A, axis={axis})")
    case(f"softmax_{aname}", f"A: array[N, D]\nf = softmax(A, axis={axis})")
    case(f"log_softmax_{aname}", f"A: array[N, D]\nf = log_softmax(A, axis={axis})")
case("logsumexp_keep", "A: array[N, D]\nf = logsumexp(A, axis=1, keepdims=True) * A")
case("logsumexp_none", "A: array[N, D]\nf = logsumexp(A)")
case("logsumexp_none_keep", "A: array[N, D]\nf = logsumexp(A, keepdims=True) * A")
case("logsumexp_vector", "a: array[N]\nf = logsumexp(a)")
case("logsumexp_01", "A: array[N, D]\nf = logsumexp(A, axis=(0, 1))")
case("softmax_default", "a: array[D]\nf = softmax(a)")
case("log_softmax_default", "A: array[N, D]\nf = log_softmax(A)")
case(
    "cross_entropy",
    "S: array[N, C]\ny: int[N]\nf = -mean(log_softmax(S, axis=1)[arange(N), y])",
    labels={"y": "C"},
)

# --- integer-array indexing (gather) ------------------------------------------------
case("gather_pairs", "A: array[N, C]\ny: int[N]\nf = A[arange(N), y]", {"y": "C"})
case("gather_rows", "A: array[C, D]\ny: int[N]\nf = A[y]", {"y": "C"})
case("gather_vector", "a: array[C]\ny: int[N]\nf = a[y] * a[y]", {"y": "C"})
case("gather_scalar", "A: array[C, D]\nk: int\nf = A[k] * A[k, 0]", {"k": "C"})
case("gather_literal", "A: array[N, D]\nf = A[0] + A[0, 0]")
case("gather_swapped", "A: array[C, N]\ny: int[N]\nf = A[y, arange(N)]", {"y": "C"})
case(
    "embedding",
    "E: array[C, D]\ny: int[N]\nW: array[D, M]\nf = E[y] @ W",
    labels={"y": "C"},
)

# --- where with comparisons ---------------------------------------------------------
case("where_gt", "a: array[N, D]\nb: array[N, D]\nf = where(a > b, a * b, a + b)")
case("where_leaky", "a: array[N, D]\nf = where(a > 0, a, 0.1 * a)")
case("where_broadcast", "a: array[N, 1]\nb: array[D]\nx: float\nf = where(a < 0, b, x)")
case("where_le_ge", "a: array[N]\nf = where(a <= 0.5, a * a, 0) + where(a >= 0, 1, a)")
case(
    "where_labels",
    "S: array[N, C]\ny: int[N]\nf = where(arange(C) == reshape(y, N, 1), 0, S * S)",
    {"y": "C"},
)
case(
    "where_cond_broadcast",
    "s: array[C]\ny: int[N]\nf = where(arange(C) == reshape(y, N, 1), 0, s * s)",
    {"y": "C"},
)
case("where_ne", "a: array[C]\nk: int\nf = where(arange(C) != k, a, 2 * a)", {"k": "C"})

# --- fan-out -------------------------------------------------------------------------
case("fanout_input", "a: array[N, D]\nf = a * a + a")
case(
    "fanout_hidden",
    "A: array[N, D]\nW: array[D, M]\nh = A @ W\nf = sum(h * h) + sum(tanh(h), axis=0) @ h.T @ A",
)
case(
    "fanout_weight",
    "A: array[N, D]\nW: array[D, D]\nf = sum((A @ W) @ W, axis=1) + sum(W.T * W)",
)
case("fanout_bias", "x: array[N, D]\nb: array[D]\nf = exp(x + b) * b - mean(b)")


# --- odds and ends: copies, unused inputs, integer arithmetic ------------------------
case("identity", "x: array[N, D]\ny = x")
case("unused_input", "a: array[N]\nb: array[N, D]\nf = a * 2")
case("int_scalar", "a: array[N]\nk: int\nf = a * k + k", {"k": 5})
case("int_array", "a: array[N]\ny: int[N]\nf = a * (y + 1) - y", {"y": 4})
case("shared_subexpression", "A: array[N, D]\nB: array[D, M]\nf = (A @ B) * (A @ B)")


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_primitive_gradients(c: Case):
    built = build(c.source)
    binds = bindings(built.symbols())
    checked = check_program(built, binds, labels=c.labels, positive=c.positive)
    assert checked == len(binds)


def test_cases_cover_every_shape_primitive():
    """The table above exercises every primitive a user can write."""
    from codegen.primitives import ARITY

    used: set[str] = set()
    for c in CASES:
        built = build(c.source)
        for stmt in built.compiled.forward.stmts:
            prim = getattr(stmt.expr, "prim", None)
            if prim is not None:
                used.add(prim)
    wanted = set(
        "add sub mul div pow neg exp log sqrt sin cos tan tanh sigmoid relu abs max "
        "min gt lt eq ge le ne matmul matvec vecmat dot sum mean amax amin shift "
        "squeeze transpose reshape gather slice where arange dim".split()
    )
    assert wanted <= set(ARITY)
    assert wanted <= used, sorted(wanted - used)


@pytest.mark.parametrize(
    "source, bind",
    [
        ("a: array[N, 1]\nb: array[1, D]\nf = a + b", {"N": 3, "D": 4}),
        ("a: array[N, 1, D]\nb: array[K, 1]\nf = a * b", {"N": 2, "D": 3, "K": 4}),
        ("x: float\nA: array[N, D]\nf = x * A", {"N": 1, "D": 1}),
        ("a: array[D]\nB: array[N, D]\nf = a - B", {"N": 5, "D": 1}),
    ],
)
def test_unbroadcast_shapes(source, bind):
    """The gradient of a broadcast argument has the argument's shape, not the result's."""
    built = build(source)
    rng = np.random.default_rng(seed_of(source))
    point = sample(built, bind, rng)
    value = built.forward(point)
    _, grads = built.forward_backward(point, np.ones(np.shape(value)))
    for name, g in zip(built.wrt, grads, strict=True):
        want = concrete(built.types[name].shape, bind)
        assert np.shape(g) == want, (name, np.shape(g), want)


def test_unbroadcast_counts_the_copies():
    """(N, 1) + (1, D) with upstream ones: each argument gets the number of copies."""
    built = build("a: array[N, 1]\nb: array[1, D]\nf = a + b")
    point = {"a": np.zeros((3, 1)), "b": np.zeros((1, 4))}
    _, (ga, gb) = built.forward_backward(point, np.ones((3, 4)))
    np.testing.assert_array_equal(ga, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(gb, np.full((1, 4), 3.0))


def test_scalar_input_gradient_is_a_scalar():
    built = build("x: float\nA: array[N, D]\nf = sum(x * A)")
    A = np.arange(6.0).reshape(2, 3)
    value, grads = built.forward_backward({"x": 2.0, "A": A})
    assert value == 30.0
    assert np.ndim(grads.x) == 0 and float(grads.x) == 15.0
    np.testing.assert_array_equal(grads.A, np.full((2, 3), 2.0))


def test_integer_inputs_have_no_gradient():
    built = build(
        "A: array[N, C]\ny: int[N]\nk: int\nf = sum(A[arange(N), y]) * A[0, k]"
    )
    assert built.wrt == ("A",)
    assert built.module.Grads._fields == ("A",)


def test_gather_scatter_adds_repeated_indices():
    """a[y] with y repeating an index: the gradient accumulates every use."""
    built = build("a: array[C]\ny: int[N]\nf = a[y]")
    a = np.array([10.0, 20.0, 30.0])
    y = np.array([2, 0, 2, 2])
    value, grads = built.forward_backward(
        {"a": a, "y": y}, np.array([1.0, 2.0, 3.0, 4.0])
    )
    np.testing.assert_array_equal(value, [30.0, 10.0, 30.0, 30.0])
    np.testing.assert_array_equal(grads.a, [2.0, 0.0, 8.0])


def test_max_reduction_ties_split_evenly():
    """The documented convention: ties of max/min split the gradient evenly."""
    built = build("A: array[N, D]\nf = max(A, axis=1)")
    A = np.array([[1.0, 3.0, 3.0], [5.0, 5.0, 5.0]])
    value, grads = built.forward_backward({"A": A}, np.array([1.0, 6.0]))
    np.testing.assert_array_equal(value, [3.0, 5.0])
    np.testing.assert_array_equal(grads.A, [[0.0, 0.5, 0.5], [2.0, 2.0, 2.0]])


def test_relu_gradient_at_zero_is_zero():
    built = build("a: array[N]\nf = maximum(0, a)")
    _, grads = built.forward_backward(
        {"a": np.array([0.0, -0.0, 1e-300])}, np.array([5.0, 5.0, 5.0])
    )
    np.testing.assert_array_equal(grads.a, [0.0, 0.0, 5.0])


def test_backward_is_not_a_materialised_jacobian():
    """Linear memory: a 4000-vector ReLU backward finishes and its code has no
    (N, N) intermediate (that would be 128 MB)."""
    built = build("a: array[N]\nb: array[N]\nf = sum(maximum(0, a) * b)")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(4000)
    b = rng.standard_normal(4000)
    value, grads = built.forward_backward({"a": a, "b": b})
    np.testing.assert_allclose(value, np.sum(np.maximum(0, a) * b), rtol=1e-12)
    np.testing.assert_array_equal(grads.a, np.where(a > 0, b, 0.0))
    np.testing.assert_array_equal(grads.b, np.maximum(0, a))


def test_maximum_ties_split_evenly():
    built = build("a: array[N]\nb: array[N]\nf = maximum(a, b)")
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 0.0])
    _, grads = built.forward_backward({"a": a, "b": b}, np.array([2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(grads.a, [1.0, 0.0, 4.0])
    np.testing.assert_array_equal(grads.b, [1.0, 3.0, 0.0])


def test_wrt_subset_matches_the_full_gradient():
    from codegen.evaluate import load_module
    from codegen.generate import Options, generate

    source = (REPO / "examples" / "two_layer_net.bp").read_text(encoding="utf-8")
    full = build(source)
    only = load_module(generate(source, Options(wrt=("W1", "b2"))), "wrt_subset")
    assert only.Grads._fields == ("W1", "b2")
    rng = np.random.default_rng(17)
    bind = {"N": 4, "D": 3, "H": 5, "C": 2}
    point = sample(full, bind, rng, {"y": "C"})
    value, grads = full.forward_backward(point)
    value2, grads2 = only.forward_backward(*(point[n] for n in full.inputs))
    assert value2 == value
    np.testing.assert_array_equal(grads2.W1, grads.W1)
    np.testing.assert_array_equal(grads2.b2, grads.b2)
