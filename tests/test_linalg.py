"""Batched ``@``, ``swapaxes``, ``transpose(a, axes)``, ``a.mT``, negative axes and
``einsum``: values and every gradient against PyTorch autograd in float64, central
differences and the dot-product test (tests/oracles.py through array_helpers), forward
mode against ``torch.func.jvp``, the torch backend against the numpy module, the layer
target, and one-line errors through the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from array_helpers import bindings, build, check_program, concrete, sample, seed_of
from conftest import one_line_error

from codegen.evaluate import load_module
from codegen.generate import Options, generate

torch = pytest.importorskip("torch")

#: distinct sizes, so that a swapped or permuted axis cannot go unnoticed
SIZES = {"B": 2, "T": 3, "S": 4, "H": 2, "E": 5, "N": 3, "D": 4, "M": 5, "K": 6}

SCORES = "Q: array[B, T, H, E]\nK: array[B, S, H, E]\n"

#: id -> (program, the same computation in PyTorch on the inputs in order)
CASES = {
    "bmatmul_broadcast_rank": (
        "X: array[B, T, D]\nW: array[D, E]\nf = X @ W",
        lambda X, W: X @ W,
    ),
    "bmatmul_batched": (
        "Q: array[B, H, T, E]\nK: array[B, H, E, S]\nf = Q @ K",
        lambda Q, K: Q @ K,
    ),
    "bmatmul_broadcast_size1": (
        "A: array[1, N, D]\nC: array[K, D, M]\nf = A @ C",
        lambda A, C: A @ C,
    ),
    "bmatmul_left_matrix": (
        "A: array[N, D]\nC: array[K, D, M]\nf = A @ C",
        lambda A, C: A @ C,
    ),
    "bmatmul_vector_right": (
        "X: array[B, T, D]\nv: array[D]\nf = X @ v",
        lambda X, v: X @ v,
    ),
    "bmatmul_vector_left": (
        "v: array[T]\nX: array[B, T, D]\nf = v @ X",
        lambda v, X: v @ X,
    ),
    "swapaxes": (
        "X: array[N, D, K]\nY: array[K, N, D]\nf = swapaxes(X, 0, 2) * swapaxes(Y, -1, 1)",
        lambda X, Y: torch.swapaxes(X, 0, 2) * torch.swapaxes(Y, -1, 1),
    ),
    "transpose_axes": (
        "X: array[N, D, K]\nW: array[D, K, N]\nf = transpose(X, (1, -1, 0)) * W",
        lambda X, W: X.permute(1, 2, 0) * W,
    ),
    "transpose_reversal": (
        "X: array[N, D, K]\nf = transpose(X) * 2",
        lambda X: X.permute(2, 1, 0) * 2,
    ),
    "mT": (
        "A: array[B, N, D]\nC: array[B, N, M]\nf = A.mT @ C",
        lambda A, C: A.mT @ C,
    ),
    "einsum_scores": (
        SCORES + 'f = einsum("bqhe,bkhe->bhqk", Q, K)',
        lambda Q, K: torch.einsum("bqhe,bkhe->bhqk", Q, K),
    ),
    "einsum_weighted_values": (
        'P: array[B, H, T, S]\nV: array[B, S, H, E]\nf = einsum("bhqk,bkhe->bqhe", P, V)',
        lambda P, V: torch.einsum("bhqk,bkhe->bqhe", P, V),
    ),
    "einsum_three_operands": (
        "X: array[N, D]\nW: array[D, E]\nY: array[M, E]\n"
        'f = einsum("nd,de,me->nm", X, W, Y)',
        lambda X, W, Y: torch.einsum("nd,de,me->nm", X, W, Y),
    ),
    "einsum_summed_out_letters": (
        'X: array[N, D]\ny: array[K]\nf = einsum("nd,k->n", X, y)',
        lambda X, y: torch.einsum("nd,k->n", X, y),
    ),
    "einsum_one_operand": (
        'X: array[N, D, K]\nf = einsum("ndk->kn", X)',
        lambda X: torch.einsum("ndk->kn", X),
    ),
    "einsum_scalar_output": (
        'X: array[N, D]\nY: array[N, D]\nf = einsum("nd,nd->", X, Y)',
        lambda X, Y: torch.einsum("nd,nd->", X, Y),
    ),
    "attention": (
        "Q: array[B, T, H, E]\nK: array[B, S, H, E]\nV: array[B, S, H, E]\n"
        'A = softmax(einsum("bqhe,bkhe->bhqk", Q, K) / sqrt(E), axis=-1)\n'
        'f = einsum("bhqk,bkhe->bqhe", A, V)',
        lambda Q, K, V: torch.einsum(
            "bhqk,bkhe->bqhe",
            torch.softmax(
                torch.einsum("bqhe,bkhe->bhqk", Q, K) / Q.shape[-1] ** 0.5, -1
            ),
            V,
        ),
    ),
    "attention_batched_matmul": (
        "Q: array[B, H, T, E]\nK: array[B, H, S, E]\nV: array[B, H, S, E]\n"
        "f = softmax(Q @ K.mT, axis=-1) @ V",
        lambda Q, K, V: torch.softmax(Q @ K.mT, -1) @ V,
    ),
    "negative_axes": (
        "X: array[N, D, K]\n"
        "f = sum(X, axis=-1) + mean(X, axis=-1) + max(X, axis=-1) + "
        "logsumexp(X, axis=-1) + norm(X, axis=-1) + sum(softmax(X, axis=-2), axis=(-1,))",
        lambda X: (
            X.sum(-1)
            + X.mean(-1)
            + X.amax(-1)
            + torch.logsumexp(X, -1)
            + torch.linalg.vector_norm(X, dim=-1)
            + torch.softmax(X, -2).sum(-1)
        ),
    ),
    "negative_axes_tuple": (
        "X: array[N, D, K]\nf = sum(X * X, axis=(0, -1)) + mean(exp(X), axis=(-1, -3))",
        lambda X: (X * X).sum((0, -1)) + torch.exp(X).mean((-1, -3)),
    ),
}


def _point(built, bind, rng):
    point = sample(built, bind, rng)
    return [point[n] for n in built.inputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_equal_torch_autograd(name: str) -> None:
    source, reference = CASES[name]
    built = build(source)
    rng = np.random.default_rng(seed_of("linalg-torch", name))
    args = _point(built, SIZES, rng)
    value = built.module.forward(*args)
    upstream = rng.standard_normal(np.shape(value)) if np.ndim(value) else 1.5
    got, grads = built.module.forward_backward(*args, upstream)
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    want = reference(*leaves)
    want.backward(torch.as_tensor(upstream, dtype=torch.float64))
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert grads._fields == built.inputs
    for leaf, g in zip(leaves, grads, strict=True):
        assert np.shape(g) == tuple(leaf.shape)
        np.testing.assert_allclose(g, leaf.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_central_differences_and_dot_product(name: str) -> None:
    """At generic sizes, all sizes 1 and each size alone 1 (size-1 batch axes
    broadcast too)."""
    built = build(CASES[name][0])
    binds = bindings(built.symbols())
    assert check_program(built, binds) == len(binds)


@pytest.mark.parametrize(
    "name",
    ["bmatmul_broadcast_size1", "transpose_axes", "mT", "einsum_scores", "attention"],
)
def test_jvp_equals_torch_func_jvp(name: str) -> None:
    source, reference = CASES[name]
    built = build(source)
    module = load_module(generate(source, Options(mode=("grad", "jvp"))), "jvp_test")
    rng = np.random.default_rng(seed_of("linalg-jvp", name))
    args = _point(built, SIZES, rng)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    value, tangent = module.jvp(*args, *tangents)
    want_value, want_tangent = torch.func.jvp(
        reference,
        tuple(torch.tensor(a) for a in args),
        tuple(torch.tensor(t) for t in tangents),
    )
    np.testing.assert_allclose(value, want_value.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, want_tangent.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name",
    ["bmatmul_broadcast_rank", "swapaxes", "transpose_axes", "mT", "attention"]
    + ["einsum_three_operands", "einsum_summed_out_letters"]
    + ["negative_axes", "negative_axes_tuple"],
)
def test_torch_backend_equals_the_numpy_module(name: str) -> None:
    source = CASES[name][0]
    built = build(source)
    text = generate(source, Options(backend="torch"))
    module = load_module(text, "torch_linalg")
    rng = np.random.default_rng(seed_of("linalg-backend", name))
    args = _point(built, SIZES, rng)
    value = built.module.forward(*args)
    upstream = rng.standard_normal(np.shape(value)) if np.ndim(value) else 1.5
    got, grads = built.module.forward_backward(*args, upstream)
    t_got, t_grads = module.forward_backward(
        *(torch.tensor(a) for a in args), torch.as_tensor(upstream)
    )
    np.testing.assert_allclose(t_got.numpy(), got, rtol=1e-12, atol=1e-12)
    for t, g in zip(t_grads, grads, strict=True):
        np.testing.assert_allclose(t.numpy(), g, rtol=1e-12, atol=1e-12)


def test_printed_forms() -> None:
    """numpy: ``@``, np.swapaxes, np.transpose(a, axes), np.einsum with optimize=True
    and each operand's gradient an einsum of the upstream and the others; torch: .mT,
    .permute, torch.einsum."""
    numpy_text = generate(CASES["einsum_scores"][0], Options())
    assert 'S = np.einsum("bqhe,bkhe->bhqk", Q, K, optimize=True)' not in numpy_text
    assert 'f = np.einsum("bqhe,bkhe->bhqk", Q, K, optimize=True)' in numpy_text
    assert 'dQ = np.einsum("bhqk,bkhe->bqhe", df, K, optimize=True)' in numpy_text
    assert 'dK = np.einsum("bhqk,bqhe->bkhe", df, Q, optimize=True)' in numpy_text
    mt = generate(CASES["mT"][0], Options())
    assert "t1 = np.swapaxes(A, -1, -2)" in mt
    assert "dA = np.swapaxes(dt1, -1, -2)" in mt
    assert ".sum(axis=0)" not in mt  # no broadcast batch axes: nothing summed
    broadcast = generate(CASES["bmatmul_broadcast_rank"][0], Options())
    assert "dW = (np.swapaxes(X, -1, -2) @ df).sum(axis=0)" in broadcast
    size1 = generate(CASES["bmatmul_broadcast_size1"][0], Options())
    assert ".sum(axis=0, keepdims=True)" in size1
    perm = generate(CASES["transpose_axes"][0], Options())
    assert "np.transpose(X, (1, 2, 0))" in perm
    assert "np.transpose(" in perm.split("# backward")[1]
    torch_text = generate(
        CASES["attention_batched_matmul"][0], Options(backend="torch")
    )
    assert "K.mT" in torch_text
    assert "torch.einsum(" in generate(
        CASES["einsum_scores"][0], Options(backend="torch")
    )
    assert ".permute(1, 2, 0)" in generate(
        CASES["transpose_axes"][0], Options(backend="torch")
    )


def test_summed_out_letters_are_broadcast_back() -> None:
    """In "nd,k->n" X's d and y's k are summed out: their gradients broadcast back
    (np.full_like over the missing axis), shaped like the operand."""
    text = generate(CASES["einsum_summed_out_letters"][0], Options())
    assert 'X, np.expand_dims(np.einsum("n,k->n", df, y, optimize=True), 1)' in text
    assert 'y, np.expand_dims(np.einsum("n,nd->", df, X, optimize=True), 0)' in text


def test_layer_target_with_einsum_equals_the_flat_module() -> None:
    source = CASES["attention"][0]
    built = build(source)
    layer = load_module(generate(source, Options(target="layer", name="attn")), "attn")
    rng = np.random.default_rng(seed_of("linalg-layer"))
    args = _point(built, SIZES, rng)
    out, cache = layer.attn_forward(*args)
    upstream = rng.standard_normal(np.shape(out))
    value, grads = built.module.forward_backward(*args, upstream)
    np.testing.assert_array_equal(out, value)
    got = layer.attn_backward(upstream, cache)
    for g, want in zip(got, grads, strict=True):
        np.testing.assert_array_equal(g, want)


def test_sizes_of_gradients_at_size_one_batch() -> None:
    """(1, N, D) @ (K, D, M): A's gradient is summed over the broadcast batch axis,
    keeping it (shape (1, N, D)), C's is not summed."""
    built = build(CASES["bmatmul_broadcast_size1"][0])
    bind = {"N": 2, "D": 3, "K": 4, "M": 5}
    rng = np.random.default_rng(0)
    args = _point(built, bind, rng)
    _, (dA, dC) = built.module.forward_backward(*args, np.ones((4, 2, 5)))
    assert dA.shape == concrete(built.types["A"].shape, bind)
    assert dC.shape == (4, 3, 5)
    np.testing.assert_allclose(dA[0], np.ones((2, 5)) @ args[1].sum(axis=0).T)


ERRORS = {
    "einsum_no_arrow": (
        'X: array[N, D]\nf = einsum("nd,dn", X, X)',
        ["exactly one '->'", ":2:"],
    ),
    "einsum_not_a_letter": (
        'X: array[N, D]\nf = einsum("n1,dn->n", X, X)',
        ["'1' is not a letter"],
    ),
    "einsum_spec_not_literal": (
        "X: array[N, D]\ns: float\nf = einsum(s, X)",
        ["string literal"],
    ),
    "einsum_rank_mismatch": (
        'X: array[N, D]\nY: array[D]\nf = einsum("nd,de->ne", X, Y)',
        ["operand 2 has shape (D,)", "'de'"],
    ),
    "einsum_sizes_differ": (
        'X: array[N, D]\nY: array[N, D]\nf = einsum("nd,dn->n", X, Y)',
        ["index 'd' has size D and N"],
    ),
    "einsum_repeated_index": (
        'X: array[N, N]\nf = einsum("ii->i", X)',
        ["repeats index 'i'", "traces and diagonals"],
    ),
    "einsum_output_twice": (
        'X: array[N, D]\nf = einsum("nd->nn", X)',
        ["output repeats index 'n'"],
    ),
    "einsum_output_letter_unknown": (
        'X: array[N, D]\nf = einsum("nd->nz", X)',
        ["output index 'z' is in no operand"],
    ),
    "einsum_operand_count": (
        'X: array[N, D]\nf = einsum("nd,dm->nm", X)',
        ["2 operands, given 1"],
    ),
    "transpose_three_args": (
        "X: array[N, D, K]\nf = transpose(X, 0, 1)",
        ["transpose() takes 1 to 2 arguments, got 3", "swapaxes(a, i, j)"],
    ),
    "transpose_not_a_tuple": (
        "X: array[N, D, K]\nf = transpose(X, 1)",
        ["tuple of integer literals", "swapaxes(a, i, j)"],
    ),
    "transpose_not_a_permutation": (
        "X: array[N, D, K]\nf = transpose(X, (0, 0, 1))",
        ["not a permutation", "swapaxes"],
    ),
    "swapaxes_out_of_range": (
        "X: array[N, D]\nf = swapaxes(X, 0, 2)",
        ["axis 2 is out of range"],
    ),
    "swapaxes_axis_not_literal": (
        "X: array[N, D]\ni: float\nf = swapaxes(X, 0, i)",
        ["integer literals"],
    ),
    "batched_inner_mismatch": (
        "X: array[B, T, D]\nW: array[E, D]\nf = X @ W",
        ["(B, T, D)", "(E, D)", "inner dimensions differ"],
    ),
    "batched_batch_mismatch": (
        "X: array[B, T, D]\nW: array[K, D, E]\nf = X @ W",
        ["do not broadcast"],
    ),
    "mT_of_vector": (
        "v: array[N]\nf = v.mT",
        ["'.mT' swaps the last two axes"],
    ),
    "unknown_attribute": (
        "X: array[N, D]\nf = X.H",
        ["'.mT'"],
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_input_is_one_line_exit_2(name: str, tmp_path, capsys) -> None:
    source, needles = ERRORS[name]
    line = one_line_error(source, tmp_path, capsys)
    for needle in needles:
        assert needle in line, line
