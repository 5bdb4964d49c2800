"""CS231n's three-layer convnet written by hand in NumPy, as the assignment's layers
do it: im2col by index arrays (its im2col.py: get_im2col_indices, col2im by
np.add.at), 2x2 max pooling by the reshape trick (ties share the gradient evenly),
affine, ReLU and the softmax loss.  The reference of benchmarks/bench_conv.py."""

from __future__ import annotations

import numpy as np


def im2col_indices(shape, kh, kw, padding, stride):
    n, c, h, w = shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    i0 = np.tile(np.repeat(np.arange(kh), kw), c)
    i1 = stride * np.repeat(np.arange(oh), ow)
    j0 = np.tile(np.arange(kw), kh * c)
    j1 = stride * np.tile(np.arange(ow), oh)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(c), kh * kw).reshape(-1, 1)
    return k, i, j


def im2col(x, kh, kw, padding, stride):
    p = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    k, i, j = im2col_indices(x.shape, kh, kw, padding, stride)
    cols = x_padded[:, k, i, j]
    c = x.shape[1]
    return cols.transpose(1, 2, 0).reshape(kh * kw * c, -1)


def col2im(cols, shape, kh, kw, padding, stride):
    n, c, h, w = shape
    x_padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    k, i, j = im2col_indices(shape, kh, kw, padding, stride)
    cols_reshaped = cols.reshape(c * kh * kw, -1, n).transpose(2, 0, 1)
    np.add.at(x_padded, (slice(None), k, i, j), cols_reshaped)
    if padding == 0:
        return x_padded
    return x_padded[:, :, padding:-padding, padding:-padding]


def conv_forward(x, w, b, padding=1, stride=1):
    f, _, kh, kw = w.shape
    n, _, h, wd = x.shape
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    cols = im2col(x, kh, kw, padding, stride)
    out = w.reshape(f, -1) @ cols + b.reshape(-1, 1)
    out = out.reshape(f, oh, ow, n).transpose(3, 0, 1, 2)
    return out, (x, w, cols, padding, stride)


def conv_backward(dout, cache):
    x, w, cols, padding, stride = cache
    f, _, kh, kw = w.shape
    db = dout.sum(axis=(0, 2, 3))
    dout_reshaped = dout.transpose(1, 2, 3, 0).reshape(f, -1)
    dw = (dout_reshaped @ cols.T).reshape(w.shape)
    dcols = w.reshape(f, -1).T @ dout_reshaped
    dx = col2im(dcols, x.shape, kh, kw, padding, stride)
    return dx, dw, db


def max_pool_forward(x):
    n, c, h, w = x.shape
    x_reshaped = x.reshape(n, c, h // 2, 2, w // 2, 2)
    out = x_reshaped.max(axis=3).max(axis=4)
    return out, (x, x_reshaped, out)


def max_pool_backward(dout, cache):
    x, x_reshaped, out = cache
    dx_reshaped = np.zeros_like(x_reshaped)
    out_newaxis = out[:, :, :, np.newaxis, :, np.newaxis]
    mask = x_reshaped == out_newaxis
    dout_newaxis = dout[:, :, :, np.newaxis, :, np.newaxis]
    dout_broadcast, _ = np.broadcast_arrays(dout_newaxis, dx_reshaped)
    dx_reshaped[mask] = dout_broadcast[mask]
    dx_reshaped /= np.sum(mask, axis=(3, 5), keepdims=True)
    return dx_reshaped.reshape(x.shape)


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    z = np.exp(shifted).sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(z)
    n = scores.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return loss, dscores / n


def loss_and_grads(X, W1, b1, W2, b2, W3, b3, y):
    """The convnet's loss and the gradients of W1, b1, W2, b2, W3, b3 (and X)."""
    conv, conv_cache = conv_forward(X, W1, b1)
    relu1 = np.maximum(0, conv)
    pooled, pool_cache = max_pool_forward(relu1)
    flat = pooled.reshape(X.shape[0], -1)
    a2 = flat @ W2 + b2
    hidden = np.maximum(0, a2)
    scores = hidden @ W3 + b3
    loss, dscores = softmax_loss(scores, y)
    dW3, db3 = hidden.T @ dscores, dscores.sum(axis=0)
    da2 = (dscores @ W3.T) * (a2 > 0)
    dW2, db2 = flat.T @ da2, da2.sum(axis=0)
    dpooled = (da2 @ W2.T).reshape(pooled.shape)
    drelu1 = max_pool_backward(dpooled, pool_cache)
    dconv = drelu1 * (conv > 0)
    dX, dW1, db1 = conv_backward(dconv, conv_cache)
    return loss, (dX, dW1, db1, dW2, db2, dW3, db3)
