"""Stable logsumexp / softmax / log_softmax: inputs of magnitude 1000 give finite values
and gradients without a single warning (warnings are errors here, and NumPy raises on
overflow, underflow to inf/nan, invalid and division by zero)."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from array_helpers import build


def _strict(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            return fn(*args)


def _big(rng, shape):
    """Magnitude ~1000, both signs, with spreads of tens so softmax is not one-hot."""
    signs = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return signs * 1000.0 + 10.0 * rng.standard_normal(shape)


def ref_logsumexp(a, axis, keepdims=False):
    m = a.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def ref_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_logsumexp_large_inputs(axis):
    built = build(f"A: array[N, D]\nf = logsumexp(A, axis={axis})")
    rng = np.random.default_rng(axis + 10)
    A = _big(rng, (4, 5))
    c = rng.standard_normal(ref_logsumexp(A, axis).shape)
    value, (dA,) = _strict(built.module.forward_backward, A, c)
    np.testing.assert_allclose(value, ref_logsumexp(A, axis), rtol=1e-13)
    np.testing.assert_allclose(
        dA, np.expand_dims(c, axis) * ref_softmax(A, axis), rtol=1e-9, atol=1e-300
    )
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(dA))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_logsumexp_all_reduction_large_inputs(sign):
    built = build("A: array[N, D]\nf = logsumexp(A, axis=(0, 1))")
    rng = np.random.default_rng(3)
    A = sign * 1000.0 + rng.standard_normal((3, 4))
    value, (dA,) = _strict(built.module.forward_backward, A)
    np.testing.assert_allclose(value, ref_logsumexp(A, None), rtol=1e-13)
    np.testing.assert_allclose(dA, np.exp(A - ref_logsumexp(A, None)), rtol=1e-9)
    np.testing.assert_allclose(dA.sum(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_large_inputs(axis):
    built = build(f"A: array[N, D]\nf = softmax(A, axis={axis})")
    rng = np.random.default_rng(axis + 20)
    A = _big(rng, (4, 5))
    c = rng.standard_normal(A.shape)
    value, (dA,) = _strict(built.module.forward_backward, A, c)
    p = ref_softmax(A, axis)
    np.testing.assert_allclose(value, p, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(value.sum(axis=axis), 1.0, rtol=1e-12)
    # softmax' applied to c: p * (c - <p, c>)
    want = p * (c - (p * c).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(dA, want, rtol=1e-8, atol=1e-12)
    assert np.all(np.isfinite(dA))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_log_softmax_large_inputs(axis):
    built = build(f"A: array[N, D]\nf = log_softmax(A, axis={axis})")
    rng = np.random.default_rng(axis + 30)
    A = _big(rng, (4, 5))
    c = rng.standard_normal(A.shape)
    value, (dA,) = _strict(built.module.forward_backward, A, c)
    want_value = A - ref_logsumexp(A, axis, keepdims=True)
    np.testing.assert_allclose(value, want_value, rtol=1e-12, atol=1e-9)
    p = ref_softmax(A, axis)
    want = c - p * c.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(dA, want, rtol=1e-8, atol=1e-9)


def test_shift_invariance_of_softmax():
    """softmax(a + 1000) = softmax(a); logsumexp(a + 1000) = logsumexp(a) + 1000."""
    sm = build("a: array[D]\nf = softmax(a)")
    lse = build("a: array[D]\nf = logsumexp(a, axis=0)")
    rng = np.random.default_rng(5)
    a = rng.standard_normal(6)
    for shift in (1000.0, -1000.0):
        np.testing.assert_allclose(
            _strict(sm.module.forward, a + shift),
            _strict(sm.module.forward, a),
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            _strict(lse.module.forward, a + shift),
            _strict(lse.module.forward, a) + shift,
            rtol=1e-13,
        )


def test_two_layer_net_with_huge_scores():
    """Scores of magnitude ~1000 in the generated two-layer net: finite loss and
    gradients, equal to the max-shifted reference, no warnings."""
    module = importlib.import_module("generated.two_layer_net")
    rng = np.random.default_rng(11)
    N, D, H, C = 6, 4, 5, 3
    X = rng.standard_normal((N, D))
    W1 = rng.standard_normal((D, H))
    b1 = np.abs(rng.standard_normal(H)) + 1.0
    W2 = 300.0 * rng.standard_normal((H, C))
    b2 = np.array([1000.0, -1000.0, 0.0])
    y = rng.integers(0, C, size=N)
    loss, grads = _strict(module.forward_backward, X, W1, b1, W2, b2, y)
    hidden = np.maximum(0, X @ W1 + b1)
    scores = hidden @ W2 + b2
    assert np.abs(scores).max() > 500
    want = np.mean(ref_logsumexp(scores, 1) - scores[np.arange(N), y])
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    assert np.isfinite(loss)
    for g in grads:
        assert np.all(np.isfinite(g))
    dscores = ref_softmax(scores, 1)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    np.testing.assert_allclose(grads.b2, dscores.sum(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads.W2, hidden.T @ dscores, rtol=1e-9, atol=1e-9)


def test_cross_entropy_large_inputs():
    built = build(
        "S: array[N, C]\ny: int[N]\nf = -mean(log_softmax(S, axis=1)[arange(N), y])"
    )
    rng = np.random.default_rng(13)
    S = _big(rng, (5, 4))
    y = rng.integers(0, 4, size=5)
    loss, (dS,) = _strict(built.module.forward_backward, S, y)
    logp = S - ref_logsumexp(S, 1, keepdims=True)
    np.testing.assert_allclose(loss, -logp[np.arange(5), y].mean(), rtol=1e-12)
    want = ref_softmax(S, 1)
    want[np.arange(5), y] -= 1
    np.testing.assert_allclose(dS, want / 5, rtol=1e-8, atol=1e-12)


def test_sigmoid_large_inputs():
    built = build("a: array[N]\nf = sigmoid(a)")
    a = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    c = np.ones(5)
    value, (da,) = _strict(built.module.forward_backward, a, c)
    np.testing.assert_allclose(
        value,
        [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0],
        rtol=1e-12,
        atol=1e-300,
    )
    assert np.all(np.isfinite(da))
    np.testing.assert_allclose(da[2], 0.25, rtol=1e-15)
