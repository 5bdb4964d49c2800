"""The transformer block of examples/transformer_block.bp written by hand in NumPy, as
one would for a course: heads split by reshaping, 2-D matmuls over the B*T rows, the
layer norm's and softmax's backward in their closed forms.  Same inputs, value and
gradients as the generated module (checked by benchmarks/bench_transformer.py)."""

from __future__ import annotations

import numpy as np

EPS = 1e-5
GELU_C = np.sqrt(2 / np.pi)


def _layer_norm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + EPS)
    xhat = xc * rstd
    return xhat * g + b, (xhat, rstd)


def _layer_norm_backward(dy, g, cache):
    xhat, rstd = cache
    dg = (dy * xhat).reshape(-1, xhat.shape[-1]).sum(axis=0)
    db = dy.reshape(-1, xhat.shape[-1]).sum(axis=0)
    dxhat = dy * g
    dx = rstd * (
        dxhat
        - dxhat.mean(axis=-1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    )
    return dx, dg, db


def forward_backward(X, mask, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, R):
    """(loss, gradients of X, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, R)."""
    B, T, D = X.shape
    _, NH, E = Wq.shape
    N = B * T
    Wqkv = np.concatenate(
        [Wq.reshape(D, -1), Wk.reshape(D, -1), Wv.reshape(D, -1)], axis=1
    )
    # forward
    h1, ln1 = _layer_norm(X, g1, b1)
    qkv = h1.reshape(N, D) @ Wqkv  # (N, 3*NH*E)
    q, k, v = (
        qkv[:, i * NH * E : (i + 1) * NH * E].reshape(B, T, NH, E).transpose(0, 2, 1, 3)
        for i in range(3)
    )
    s = (q @ k.transpose(0, 1, 3, 2)) / np.sqrt(E)
    s = np.where(mask > 0, s, -1e9)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    a = (p @ v).transpose(0, 2, 1, 3).reshape(N, NH * E)
    x1 = X.reshape(N, D) + a @ Wo.reshape(NH * E, D)
    h2, ln2 = _layer_norm(x1, g2, b2)
    u = h2 @ W1 + c1
    th = np.tanh(GELU_C * (u + 0.044715 * u**3))
    gel = 0.5 * u * (1 + th)
    y = x1 + gel @ W2 + c2
    loss = float((y.reshape(B, T, D) * R).sum())
    # backward
    dy = R.reshape(N, D)
    dR = y.reshape(B, T, D)
    dc2 = dy.sum(axis=0)
    dW2 = gel.T @ dy
    dgel = dy @ W2.T
    du = dgel * (
        0.5 * (1 + th) + 0.5 * u * (1 - th * th) * GELU_C * (1 + 3 * 0.044715 * u * u)
    )
    dc1 = du.sum(axis=0)
    dW1 = h2.T @ du
    dx1, dg2, db2 = _layer_norm_backward(du @ W1.T, g2, ln2)
    dx1 += dy
    dWo = (a.T @ dx1).reshape(NH, E, D)
    da = (dx1 @ Wo.reshape(NH * E, D).T).reshape(B, T, NH, E).transpose(0, 2, 1, 3)
    dp = da @ v.transpose(0, 1, 3, 2)
    dv = p.transpose(0, 1, 3, 2) @ da
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(E)
    dq = ds @ k
    dk = ds.transpose(0, 1, 3, 2) @ q
    dqkv = np.concatenate(
        [t.transpose(0, 2, 1, 3).reshape(N, NH * E) for t in (dq, dk, dv)], axis=1
    )
    dWqkv = h1.reshape(N, D).T @ dqkv
    dh1 = (dqkv @ Wqkv.T).reshape(B, T, D)
    dX, dg1, db1 = _layer_norm_backward(dh1, g1, ln1)
    dX += dx1.reshape(B, T, D)
    dWq, dWk, dWv = (
        dWqkv[:, i * NH * E : (i + 1) * NH * E].reshape(D, NH, E) for i in range(3)
    )
    return loss, (dX, dg1, db1, dWq, dWk, dWv, dWo, dg2, db2, dW1, dc1, dW2, dc2, dR)
