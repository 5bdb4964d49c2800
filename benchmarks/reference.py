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

import math
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


# ---------------------------------------------------------------------------------------
# Scalar references (issue #12, targets 1-3): the straight-line code a careful person
# writes by hand for the lecture's examples -- forward, then one backward statement per
# forward statement, gradients returned as a plain tuple, the stable sigmoid with one exp.


def add_mul_forward(x, y, z):
    """The lecture's section 1: f = x + y*z."""
    q = y * z
    f = x + q
    return f


def add_mul_forward_backward(x, y, z, df=1.0):
    """Return (f, (dx, dy, dz))."""
    q = y * z
    f = x + q
    dx = df
    dq = df
    dy = dq * z
    dz = dq * y
    return f, (dx, dy, dz)


def _sigmoid(e):
    return 1 / (1 + math.exp(-e)) if e > -700 else math.exp(e)


def sigmoid_chain_forward(x):
    """The lecture's section 3 (examples/sigmoid_chain.bp)."""
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = 1 / (1 + math.exp(-e)) if e > -700 else math.exp(e)
    return f


def sigmoid_chain_forward_backward(x, df=1.0):
    """Return (f, (dx,))."""
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = 1 / (1 + math.exp(-e)) if e > -700 else math.exp(e)
    de = df * f * (1 - f)
    dd = de * 2
    dc = dd
    db = -dc
    da = db * 2
    dx = da
    return f, (dx,)


#: how a careful person writes each primitive of the DAG programs, and its backward
#: contributions: (forward text, [(operand index, contribution text)]); {a} {b} are the
#: operands, {v} the value, {g} its gradient
_DAG_RULES = {
    "+": ("{a} + {b}", [(0, "{g}"), (1, "{g}")]),
    "-": ("{a} - {b}", [(0, "{g}"), (1, "-{g}")]),
    "*": ("{a} * {b}", [(0, "{g} * {b}"), (1, "{g} * {a}")]),
    "/": ("{a} / {b}", [(0, "{g} / {b}"), (1, "-{g} * {v} / {b}")]),
    "exp": ("exp({a})", [(0, "{g} * {v}")]),
    "log": ("log({a})", [(0, "{g} / {a}")]),
    "sqrt": ("sqrt({a})", [(0, "{g} / (2 * {v})")]),
    "sin": ("sin({a})", [(0, "{g} * cos({a})")]),
    "tanh": ("tanh({a})", [(0, "{g} * (1 - {v} * {v})")]),
    "sigmoid": (
        "1 / (1 + exp(-{a})) if {a} > -700 else exp({a})",
        [(0, "{g} * {v} * (1 - {v})")],
    ),
}


def flat_reference(source: str) -> str:
    """A module with ``forward`` and ``forward_backward`` for a random DAG program of
    ``benchmarks/bench_scalar.py`` (``v = a op b`` or ``v = fn(a)``, inputs declared
    ``x: float``), written as a careful person writes it by hand: ``from math import``
    the functions, the forward statements, then for each in reverse order one
    statement per contribution (the first assigns, later ones ``+=``), and the
    gradients returned as a plain tuple.  Independent of codegen."""
    inputs: list[str] = []
    stmts: list[tuple[str, str, list[str]]] = []
    for line in source.splitlines():
        if line.endswith(": float"):
            inputs.append(line.split(":")[0])
            continue
        target, expr = (s.strip() for s in line.split("=", 1))
        if expr.endswith(")") and "(" in expr:
            fn, arg = expr[:-1].split("(")
            stmts.append((target, fn, [arg]))
        else:
            a, op, b = expr.split()
            stmts.append((target, op, [a, b]))
    output = stmts[-1][0]
    forward = []
    for target, prim, args in stmts:
        text = _DAG_RULES[prim][0].format(a=args[0], b=args[-1])
        forward.append(f"    {target} = {text}")
    backward = []
    has_grad = {output}
    for target, prim, args in reversed(stmts):
        if target not in has_grad:
            continue
        for index, text in _DAG_RULES[prim][1]:
            operand = args[index]
            if not operand.isidentifier():
                continue  # a literal
            value = text.format(g=f"d{target}", a=args[0], b=args[-1], v=target)
            if operand in has_grad:
                if value.startswith("-"):
                    backward.append(f"    d{operand} -= {value[1:]}")
                else:
                    backward.append(f"    d{operand} += {value}")
            else:
                backward.append(f"    d{operand} = {value}")
                has_grad.add(operand)
    grads = ", ".join(f"d{x}" if x in has_grad else "0.0" for x in inputs)
    params = ", ".join(inputs)
    return "\n".join(
        [
            "from math import cos, exp, log, sin, sqrt, tanh",
            "",
            "",
            f"def forward({params}):",
            *forward,
            f"    return {output}",
            "",
            "",
            f"def forward_backward({params}, d{output}=1.0):",
            *forward,
            *backward,
            f"    return {output}, ({grads},)",
            "",
        ]
    )
