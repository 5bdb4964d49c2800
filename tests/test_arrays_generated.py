"""The generated array gallery (generated/*.py for the lecture's sections 4-7): the
lecture's numbers, hand-written CS231n-style references, central finite differences
and the dot-product identity, for several shape bindings including size-1 axes."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from array_helpers import (
    Built,
    bindings,
    built_from_module,
    check_program,
    concrete,
    sample,
    seed_of,
)
from conftest import load

REPO = Path(__file__).resolve().parent.parent

#: module -> integer inputs and the bound of their values
GALLERY: dict[str, dict[str, object]] = {
    "relu_vector": {},
    "matmul": {},
    "svm_loss": {"y": "C"},
    "svm_loss_batched": {"y": "C"},
    "two_layer_net": {"y": "C"},
    "affine_relu": {},
    "batchnorm": {},
}


def gallery(name: str) -> Built:
    module = importlib.import_module(f"generated.{name}")
    source = (REPO / "examples" / f"{name}.bp").read_text(encoding="utf-8")
    return built_from_module(source, module)


# --- section 4: the lecture's numbers ----------------------------------------------


def test_relu_vector_lecture_numbers():
    module = importlib.import_module("generated.relu_vector")
    x = np.array([1.0, -2.0, 3.0, -1.0])
    upstream = np.array([4.0, -1.0, 5.0, 9.0])
    y, grads = module.forward_backward(x, upstream)
    np.testing.assert_array_equal(y, [1.0, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(grads.x, [4, 0, 5, 0])
    np.testing.assert_array_equal(module.forward(x), [1.0, 0.0, 3.0, 0.0])
    assert grads._fields == ("x",)


def test_relu_vector_upstream_is_required():
    module = importlib.import_module("generated.relu_vector")
    with pytest.raises(TypeError):
        module.forward_backward(np.array([1.0, -2.0]))


def test_array_upstream_must_fit_the_output():
    module = importlib.import_module("generated.matmul")
    rng = np.random.default_rng(seed_of("upstream-shape"))
    X, W = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="broadcast"):
        module.forward_backward(X, W, np.ones((2, 3)))  # Y is (3, 2)
    # a number is broadcast: the gradient of Y's sum, times that number
    _, by_number = module.forward_backward(X, W, 2.5)
    _, by_array = module.forward_backward(X, W, np.full((3, 2), 2.5))
    for got, want in zip(by_number, by_array, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.flags.writeable


VIEW_OUTPUTS = [
    "Y = X.T",
    "Y = reshape(X, D, N)",
    "Y = reshape(X.T, N, D)",
    "A = X * 2\nY = X.T",
    "Y = X\nZ = Y.T",
]


@pytest.mark.parametrize("program", VIEW_OUTPUTS)
@pytest.mark.parametrize("upstream", ["array", "number"])
def test_gradients_of_views_are_fresh_writable_arrays(program, upstream):
    """A gradient that is a view of the upstream array (dY.T, dY.reshape(...)) is
    copied: it never shares memory with the caller's array, and a broadcast number
    never comes back as a read-only, zero-stride array."""
    module = load("X: array[N, D]\n" + program)
    X = np.arange(6.0).reshape(3, 2)
    value = module.forward(X)
    dvalue = np.ones_like(value) * 3.0 if upstream == "array" else 3.0
    _, (dX,) = module.forward_backward(X, dvalue)
    np.testing.assert_array_equal(dX, np.full((3, 2), 3.0))
    assert dX.flags.writeable
    assert not np.shares_memory(dX, dvalue)
    dX *= 2  # in place: must not fail, must not touch the caller's array
    if upstream == "array":
        np.testing.assert_array_equal(dvalue, np.full(value.shape, 3.0))


@pytest.mark.parametrize("dtype", [int, bool, np.float32])
def test_gradients_are_float64_whatever_the_upstream_dtype(dtype):
    module = load("X: array[N, D]\nV: array[N, D]\nY = X + V")
    X = np.arange(6.0).reshape(2, 3)
    upstream = np.ones((2, 3), dtype=dtype)
    _, grads = module.forward_backward(X, X, upstream)
    for grad in grads:
        assert grad.dtype == np.float64
        np.testing.assert_array_equal(grad, np.ones((2, 3)))
    assert not np.shares_memory(grads.X, grads.V)


def test_scalar_loss_upstream_must_be_a_number():
    module = importlib.import_module("generated.svm_loss")
    rng = np.random.default_rng(seed_of("upstream-number"))
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    with pytest.raises(TypeError):
        module.forward_backward(W, x, 1, np.ones((3, 4)))
    _, twice = module.forward_backward(W, x, 1, 2.0)
    _, once = module.forward_backward(W, x, 1)
    np.testing.assert_allclose(twice.W, 2 * once.W, rtol=0, atol=0)


# --- section 1: the scalar modules still behave --------------------------------------


def test_scalar_add_mul_unchanged():
    module = importlib.import_module("generated.add_mul")
    value, grads = module.forward_backward(-2.0, 5.0, -4.0)
    assert value == -22.0
    assert tuple(grads) == (1.0, -4.0, 5.0)
    assert grads._fields == ("x", "y", "z")
    assert module.forward(-2.0, 5.0, -4.0) == -22.0
    # the numpy backend is elementwise: arrays of points give arrays of results
    value, grads = module.forward_backward(
        np.array([-2.0, 1.0]), np.array([5.0, 2.0]), np.array([-4.0, 3.0])
    )
    np.testing.assert_array_equal(value, [-22.0, 7.0])
    np.testing.assert_array_equal(grads.x, [1.0, 1.0])
    np.testing.assert_array_equal(grads.y, [-4.0, 3.0])
    np.testing.assert_array_equal(grads.z, [5.0, 2.0])


# --- every gallery module: finite differences and the dot-product identity ----------


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_gallery_gradients(name):
    built = gallery(name)
    binds = bindings(built.symbols())
    assert len(binds) >= 2
    assert any(all(v == 1 for v in b.values()) for b in binds)
    checked = check_program(built, binds, labels=GALLERY[name], points=2)
    assert checked == 2 * len(binds)


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_gallery_contract(name):
    built = gallery(name)
    module = built.module
    assert module.OUTPUT == built.output
    float_inputs = tuple(n for n in built.inputs if built.types[n].dtype == "float")
    assert tuple(module.WRT) == float_inputs
    assert module.Grads._fields == float_inputs
    bind = {s: 2 for s in built.symbols()}
    rng = np.random.default_rng(seed_of("contract", name))
    point = sample(built, bind, rng, GALLERY[name])
    value = built.forward(point)
    out_shape = concrete(built.types[built.output].shape, bind)
    assert np.shape(value) == out_shape
    if out_shape == ():
        # a scalar loss: the upstream gradient defaults to 1.0
        v1, g1 = built.forward_backward(point)
        v2, g2 = built.forward_backward(point, 1.0)
        assert v1 == v2
        for a, b in zip(g1, g2, strict=True):
            np.testing.assert_array_equal(a, b)
        # and it is linear in the upstream gradient
        _, g3 = built.forward_backward(point, -2.5)
        for a, b in zip(g1, g3, strict=True):
            np.testing.assert_allclose(b, -2.5 * a, rtol=1e-12, atol=1e-15)
    else:
        with pytest.raises(TypeError):
            built.forward_backward(point)


# --- hand-written references (the way the CS231n assignments write them) ------------


def ref_two_layer(X, W1, b1, W2, b2, y):
    N = X.shape[0]
    h_pre = X @ W1 + b1
    hidden = np.maximum(0, h_pre)
    scores = hidden @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1))
    log_probs = shifted - log_z[:, None]
    loss = -log_probs[np.arange(N), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW2 = hidden.T @ dscores
    db2 = dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden[h_pre <= 0] = 0
    dW1 = X.T @ dhidden
    db1 = dhidden.sum(axis=0)
    dX = dhidden @ W1.T
    return loss, (dX, dW1, db1, dW2, db2)


def ref_svm_single(W, x, y):
    scores = W.dot(x)
    margins = np.maximum(0, scores - scores[y] + 1)
    margins[y] = 0
    loss = margins.sum()
    dscores = (margins > 0).astype(float)
    dscores[y] -= np.count_nonzero(margins > 0)
    dW = np.outer(dscores, x)
    dx = W.T.dot(dscores)
    return loss, (dW, dx)


def ref_svm_batched(X, W, y):
    N = X.shape[0]
    scores = X @ W
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    mask = (margins > 0).astype(float)
    mask[np.arange(N), y] = -mask.sum(axis=1)
    dscores = mask / N
    dW = X.T @ dscores
    dX = dscores @ W.T
    return loss, (dX, dW)


def ref_batchnorm(x, gamma, beta, dout, eps=1e-5):
    N = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    out = gamma * xhat + beta
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = (
        inv_std
        / N
        * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    )
    return out, (dx, dgamma, dbeta)


def ref_affine_relu(X, W, b, dout):
    pre = X @ W + b
    out = np.maximum(0, pre)
    dpre = np.where(pre > 0, dout, 0.0)
    return out, (dpre @ W.T, X.T @ dpre, dpre.sum(axis=0))


def ref_matmul(X, W, dY):
    return X @ W, (dY @ W.T, X.T @ dY)


def _assert_same(got, want):
    value, grads = got
    ref_value, ref_grads = want
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads, strict=True):
        assert np.shape(g) == np.shape(r)
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


SHAPES = [
    {"N": 5, "D": 4, "H": 3, "C": 6},
    {"N": 1, "D": 3, "H": 2, "C": 4},
    {"N": 7, "D": 1, "H": 1, "C": 1},
    {"N": 2, "D": 2, "H": 8, "C": 2},
]


@pytest.mark.parametrize("bind", SHAPES, ids=str)
def test_two_layer_net_matches_reference(bind):
    module = importlib.import_module("generated.two_layer_net")
    rng = np.random.default_rng(seed_of("two_layer", sorted(bind.items())))
    N, D, H, C = bind["N"], bind["D"], bind["H"], bind["C"]
    X = rng.standard_normal((N, D))
    W1 = rng.standard_normal((D, H))
    b1 = rng.standard_normal(H)
    W2 = rng.standard_normal((H, C))
    b2 = rng.standard_normal(C)
    y = rng.integers(0, C, size=N)
    want = ref_two_layer(X, W1, b1, W2, b2, y)
    _assert_same(module.forward_backward(X, W1, b1, W2, b2, y), want)
    np.testing.assert_allclose(
        module.forward(X, W1, b1, W2, b2, y), want[0], rtol=1e-12
    )
    # with an upstream gradient: everything scales
    value, grads = module.forward_backward(X, W1, b1, W2, b2, y, 3.0)
    for g, r in zip(grads, want[1], strict=True):
        np.testing.assert_allclose(g, 3.0 * r, rtol=1e-10, atol=1e-12)


def test_two_layer_net_repeated_labels():
    """Every example of the batch has the same label: the scatter must add, not set."""
    module = importlib.import_module("generated.two_layer_net")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 3))
    W1 = rng.standard_normal((3, 4))
    b1 = rng.standard_normal(4)
    W2 = rng.standard_normal((4, 3))
    b2 = rng.standard_normal(3)
    y = np.full(6, 2)
    _assert_same(
        module.forward_backward(X, W1, b1, W2, b2, y),
        ref_two_layer(X, W1, b1, W2, b2, y),
    )


@pytest.mark.parametrize("bind", SHAPES, ids=str)
def test_svm_batched_matches_reference(bind):
    module = importlib.import_module("generated.svm_loss_batched")
    rng = np.random.default_rng(seed_of("svm_batched", sorted(bind.items())))
    N, D, C = bind["N"], bind["D"], bind["C"]
    X = rng.standard_normal((N, D))
    W = rng.standard_normal((D, C))
    y = rng.integers(0, C, size=N)
    _assert_same(module.forward_backward(X, W, y), ref_svm_batched(X, W, y))


@pytest.mark.parametrize("bind", SHAPES, ids=str)
def test_svm_single_matches_reference(bind):
    module = importlib.import_module("generated.svm_loss")
    rng = np.random.default_rng(seed_of("svm_single", sorted(bind.items())))
    D, C = bind["D"], bind["C"]
    W = rng.standard_normal((C, D))
    x = rng.standard_normal(D)
    for y in range(C):
        _assert_same(module.forward_backward(W, x, y), ref_svm_single(W, x, y))
        _assert_same(
            module.forward_backward(W, x, np.int64(y)), ref_svm_single(W, x, y)
        )


def test_svm_single_lecture_shape_example():
    """A hand-checkable case: W = I (3 classes, 3 features), x = [1, 2, 3], y = 0.

    scores = [1, 2, 3]; margins = max(0, s - 1 + 1) = [_, 2, 3]; loss = 5;
    dscores = [-2, 1, 1]; dW = outer(dscores, x); dx = W.T dscores = dscores.
    """
    module = importlib.import_module("generated.svm_loss")
    W = np.eye(3)
    x = np.array([1.0, 2.0, 3.0])
    loss, grads = module.forward_backward(W, x, 0)
    assert loss == 5.0
    np.testing.assert_array_equal(grads.W, np.outer([-2, 1, 1], x))
    np.testing.assert_array_equal(grads.x, [-2.0, 1.0, 1.0])


@pytest.mark.parametrize("bind", SHAPES, ids=str)
def test_batchnorm_matches_reference(bind):
    module = importlib.import_module("generated.batchnorm")
    rng = np.random.default_rng(seed_of("batchnorm", sorted(bind.items())))
    N, D = bind["N"], bind["D"]
    x = 2.0 + 3.0 * rng.standard_normal((N, D))
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    got = module.forward_backward(x, gamma, beta, dout)
    want = ref_batchnorm(x, gamma, beta, dout)
    value, grads = got
    np.testing.assert_allclose(value, want[0], rtol=1e-10, atol=1e-10)
    for g, r in zip(grads, want[1], strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)
    # the per-feature output has mean beta (training mode)
    np.testing.assert_allclose(value.mean(axis=0), beta, atol=1e-10)


@pytest.mark.parametrize("bind", SHAPES, ids=str)
def test_affine_relu_and_matmul_match_reference(bind):
    affine = importlib.import_module("generated.affine_relu")
    matmul = importlib.import_module("generated.matmul")
    rng = np.random.default_rng(seed_of("affine", sorted(bind.items())))
    N, D, M = bind["N"], bind["D"], bind["H"]
    X = rng.standard_normal((N, D))
    W = rng.standard_normal((D, M))
    b = rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    _assert_same(affine.forward_backward(X, W, b, dout), ref_affine_relu(X, W, b, dout))
    _assert_same(matmul.forward_backward(X, W, dout), ref_matmul(X, W, dout))


def test_matmul_section5_shapes():
    """Section 5: dX = dY W^T is (N, D), dW = X^T dY is (D, M)."""
    module = importlib.import_module("generated.matmul")
    X = np.arange(6.0).reshape(2, 3)
    W = np.arange(12.0).reshape(3, 4)
    dY = np.ones((2, 4))
    Y, (dX, dW) = module.forward_backward(X, W, dY)
    assert Y.shape == (2, 4) and dX.shape == (2, 3) and dW.shape == (3, 4)
    np.testing.assert_array_equal(dX, np.tile(W.sum(axis=1), (2, 1)))
    np.testing.assert_array_equal(dW, np.tile(X.sum(axis=0)[:, None], (1, 4)))
