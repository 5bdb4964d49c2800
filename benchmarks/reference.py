"""Hand-written NumPy references for the array benchmark (issue #3, "Speed").

Written the way a careful engineer writes them for an assignment (CS231n style): the
forward pass keeps what the backward pass needs, softmax is max-shifted, the gradient of
the gather is a fancy-index subtraction, ReLU backward is a masked assignment, and
buffers are reused in place where that is safe.

They compute exactly the functions of the generated modules, with the same signatures
and return values, so the benchmark can compare them call for call:

- ``two_layer_*``: ``examples/two_layer_net.bp`` -- softmax cross-entropy, mean over N, of
  a ReLU hidden layer; gradients for X, W1, b1, W2, b2 (dX included, as generated).
- ``svm_*``: ``examples/svm_loss_batched.bp`` -- sum over j != y_i of
  max(0, s_j - s_{y_i} + 1), divided by N; gradients for X and W.

At ties (a hidden unit or a margin exactly at 0) the gradient is 0, as in the generated
code; with random float64 data ties do not occur.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

TwoLayerGrads = namedtuple("TwoLayerGrads", ("X", "W1", "b1", "W2", "b2"))
SvmGrads = namedtuple("SvmGrads", ("X", "W"))


def two_layer_forward(X, W1, b1, W2, b2, y):
    """Return the mean softmax cross-entropy loss of the two-layer net."""
    N = X.shape[0]
    hidden = np.maximum(0, X @ W1 + b1)
    scores = hidden @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return (log_sum - shifted[np.arange(N), y]).mean()


def two_layer_forward_backward(X, W1, b1, W2, b2, y, dloss=1.0):
    """Return (loss, TwoLayerGrads(dX, dW1, db1, dW2, db2))."""
    N = X.shape[0]
    rows = np.arange(N)
    # forward
    hidden = X @ W1
    hidden += b1
    np.maximum(hidden, 0, out=hidden)
    scores = hidden @ W2
    scores += b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    sum_exp = probs.sum(axis=1, keepdims=True)
    probs /= sum_exp
    loss = (np.log(sum_exp[:, 0]) - shifted[rows, y]).mean()
    # backward
    dscores = probs
    dscores[rows, y] -= 1
    dscores *= dloss / N
    dW2 = hidden.T @ dscores
    db2 = dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden[hidden <= 0] = 0
    dW1 = X.T @ dhidden
    db1 = dhidden.sum(axis=0)
    dX = dhidden @ W1.T
    return loss, TwoLayerGrads(dX, dW1, db1, dW2, db2)


def svm_forward(X, W, y):
    """Return the batched multiclass SVM loss (sum over j != y of the margins, / N)."""
    N = X.shape[0]
    rows = np.arange(N)
    scores = X @ W
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0
    return margins.sum() / N


def svm_forward_backward(X, W, y, dloss=1.0):
    """Return (loss, SvmGrads(dX, dW))."""
    N = X.shape[0]
    rows = np.arange(N)
    # forward
    scores = X @ W
    margins = scores - scores[rows, y][:, None]
    margins += 1
    np.maximum(margins, 0, out=margins)
    margins[rows, y] = 0
    loss = margins.sum() / N
    # backward
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores *= dloss / N
    dX = dscores @ W.T
    dW = X.T @ dscores
    return loss, SvmGrads(dX, dW)
