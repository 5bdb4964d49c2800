"""The oracles themselves can fail: a wrong gradient (slightly off, off by an
un-broadcast, the wrong shape) is caught by ``check_point``.  Also the style promises
of the generated array modules that the tests can state without judging taste."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from array_helpers import Built, build, check_point, sample, seed_of

from codegen.evaluate import load_module
from codegen.generate import Options, generate

REPO = Path(__file__).resolve().parent.parent
ARRAY_MODULES = (
    "relu_vector",
    "matmul",
    "svm_loss",
    "svm_loss_batched",
    "two_layer_net",
    "affine_relu",
    "batchnorm",
)


def _with_module(built: Built, module) -> Built:
    return Built(built.source, built.compiled, module)


def _point(built: Built, bind):
    rng = np.random.default_rng(seed_of("oracle", built.source))
    return sample(built, bind, rng), rng


def test_check_point_accepts_the_real_gradient():
    built = build("X: array[N, D]\nW: array[D, M]\nb: array[M]\nf = tanh(X @ W + b)")
    bind = {"N": 3, "D": 2, "M": 4}
    point, rng = _point(built, bind)
    check_point(built, point, rng, bind)


def test_check_point_catches_a_small_error():
    built = build("X: array[N, D]\nW: array[D, M]\nb: array[M]\nf = tanh(X @ W + b)")
    real = built.module

    def forward_backward(*args):
        value, grads = real.forward_backward(*args)
        db = grads.b.copy()
        db[0] *= 1.0 + 1e-4
        return value, real.Grads(grads.X, grads.W, db)

    fake = SimpleNamespace(
        forward=real.forward, forward_backward=forward_backward, Grads=real.Grads
    )
    bind = {"N": 3, "D": 2, "M": 4}
    point, rng = _point(built, bind)
    with pytest.raises(AssertionError):
        check_point(_with_module(built, fake), point, rng, bind)


def test_check_point_catches_a_wrong_unbroadcast():
    """Replace the bias gradient's sum over the batch by a mean: caught, but only
    where the batch has more than one example (so size-1 axes alone are not enough)."""
    source = "X: array[N, D]\nb: array[D]\nf = exp(X + b)"
    built = build(source)
    text = generate(source, Options())
    assert ".sum(axis=0)" in text
    broken = load_module(text.replace(".sum(axis=0)", ".mean(axis=0)"), "broken")
    wrong = _with_module(built, broken)
    bind = {"N": 3, "D": 2}
    point, rng = _point(built, bind)
    with pytest.raises(AssertionError):
        check_point(wrong, point, rng, bind)
    bind = {"N": 1, "D": 2}
    point, rng = _point(built, bind)
    check_point(wrong, point, rng, bind)


def test_check_point_catches_a_wrong_shape():
    source = "X: array[N, D]\nb: array[D]\nf = X * b"
    built = build(source)
    text = generate(source, Options())
    broken = load_module(
        text.replace(".sum(axis=0)", ".sum(axis=0, keepdims=True)"), "broken"
    )
    bind = {"N": 3, "D": 2}
    point, rng = _point(built, bind)
    with pytest.raises(AssertionError):
        check_point(_with_module(built, broken), point, rng, bind)


def test_check_point_catches_a_wrong_output_shape():
    source = "X: array[N, D]\nf = sum(X * X)"
    built = build(source)
    text = generate(source, Options())
    broken = load_module(text.replace(".sum()", ".sum(axis=0)"), "broken")
    bind = {"N": 3, "D": 2}
    point, rng = _point(built, bind)
    with pytest.raises(AssertionError):
        check_point(_with_module(built, broken), point, rng, bind)


# --- the module contract and style of the array gallery ------------------------------


@pytest.mark.parametrize("name", ARRAY_MODULES)
def test_array_modules_import_only_numpy(name):
    text = (REPO / "generated" / f"{name}.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"numpy", "collections"}, imported
    # straight-line code: no loops, no branches, no comprehensions
    for node in ast.walk(tree):
        assert not isinstance(
            node, ast.For | ast.While | ast.If | ast.ListComp | ast.GeneratorExp
        ), (name, ast.dump(node)[:80])
    # never a materialised Jacobian
    for needle in ("np.eye", "np.diag", "np.kron", "np.einsum"):
        assert needle not in text


def test_two_layer_net_reads_like_the_lecture():
    text = (REPO / "generated" / "two_layer_net.py").read_text(encoding="utf-8")
    backward = text.split("# backward", 1)[1]
    assert "hidden.T @ " in backward  # dW2 = hidden^T dscores
    assert "db2 = dscores.sum(axis=0)" in backward  # the batch-axis un-broadcast
    assert "np.where(hidden > 0, dhidden, 0.0)" in backward  # ReLU as a mask
    assert "np.add.at(" in backward  # gather backward as a scatter-add
    assert "# (N, H)" in backward  # shape comments


@pytest.mark.parametrize(
    "source",
    [
        "W: array[D, M]\nf = sum(W)",
        "W: array[D, M]\nf = mean(W, axis=0)",
        "X: array[N, D]\nW: array[D, M]\nf = sum(X @ W)",
        "X: array[N, D]\nb: array[D]\nf = X + b",
    ],
)
def test_gradients_are_writeable_arrays(source):
    """CS231n-style training code updates gradients in place
    (``grads['W'] += reg * W``): every returned gradient must be a writeable array."""
    built = build(source)
    bind = {"N": 3, "D": 2, "M": 4}
    point, rng = _point(built, bind)
    value = built.forward(point)
    upstream = np.ones(np.shape(value)) if np.ndim(value) else None
    _, grads = built.forward_backward(point, upstream)
    for name, g in zip(built.wrt, grads, strict=True):
        assert isinstance(g, np.ndarray), name
        assert g.flags.writeable, f"d{name} is a read-only view"
        g += 1.0  # what an optimiser or a regulariser does
