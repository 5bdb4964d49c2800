"""conv2d, max_pool2d and avg_pool2d (NCHW): values and every gradient against PyTorch
autograd in float64, central differences and the dot-product test, the max-pool ties
convention, forward mode and Hessian-vector products, the layer target, the torch
backend as a Function (gradcheck, gradgradcheck), and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from array_helpers import build, check_program, sample, seed_of
from conftest import one_line_error
from oracles import check_dot_product, check_vjp

import cli
from codegen.dims import dim_text
from codegen.evaluate import load_module
from codegen.generate import Options, generate

torch = pytest.importorskip("torch")
F = torch.nn.functional

SIZES = {"N": 2, "C": 3, "H": 5, "W": 4, "F": 2}

CONV_RELU_POOL = (
    "x: array[N, 3, 6, 4]\nw: array[5, 3, 3, 3]\nb: array[5]\n"
    "f = max_pool2d(relu(conv2d(x, w, padding=1) + b[None, :, None, None]), 2)"
)

#: id -> (program, the same computation in PyTorch on the inputs in order)
CASES = {
    "conv_plain": (
        "x: array[N, 2, 5, 6]\nw: array[3, 2, 3, 2]\nf = conv2d(x, w)",
        lambda x, w: F.conv2d(x, w),
    ),
    "conv_stride_padding": (
        "x: array[N, 3, 7, 6]\nw: array[4, 3, 3, 2]\nf = conv2d(x, w, stride=2, padding=1)",
        lambda x, w: F.conv2d(x, w, stride=2, padding=1),
    ),
    "conv_stride_3_padding_2": (
        "x: array[N, 2, 8, 5]\nw: array[3, 2, 2, 3]\nf = conv2d(x, w, stride=3, padding=2)",
        lambda x, w: F.conv2d(x, w, stride=3, padding=2),
    ),
    "conv_symbolic_same": (
        "x: array[N, C, H, W]\nw: array[F, C, 3, 3]\nf = conv2d(x, w, padding=1)",
        lambda x, w: F.conv2d(x, w, padding=1),
    ),
    "conv_symbolic_valid": (
        "x: array[N, C, H, W]\nw: array[F, C, 3, 2]\nf = conv2d(x, w)",
        lambda x, w: F.conv2d(x, w),
    ),
    "max_pool": (
        "x: array[N, 2, 4, 6]\nf = max_pool2d(x, 2)",
        lambda x: F.max_pool2d(x, 2),
    ),
    "max_pool_3": (
        "x: array[N, 2, 6, 3]\nf = max_pool2d(x, 3)",
        lambda x: F.max_pool2d(x, 3),
    ),
    "avg_pool": (
        "x: array[N, 2, 6, 6]\nf = avg_pool2d(x, 3)",
        lambda x: F.avg_pool2d(x, 3),
    ),
    "conv_relu_pool": (
        CONV_RELU_POOL,
        lambda x, w, b: F.max_pool2d(
            F.relu(F.conv2d(x, w, padding=1) + b[None, :, None, None]), 2
        ),
    ),
}


def _point(built, rng):
    point = sample(built, SIZES, rng)
    return [point[n] for n in built.inputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_equal_torch_autograd(name: str) -> None:
    source, reference = CASES[name]
    built = build(source)
    rng = np.random.default_rng(seed_of("conv-torch", name))
    args = _point(built, rng)  # normal samples: no ties
    value = built.module.forward(*args)
    upstream = rng.standard_normal(np.shape(value))
    got, grads = built.module.forward_backward(*args, upstream)
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    want = reference(*leaves)
    want.backward(torch.as_tensor(upstream))
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    for leaf, g in zip(leaves, grads, strict=True):
        assert np.shape(g) == tuple(leaf.shape)
        np.testing.assert_allclose(g, leaf.grad.numpy(), rtol=1e-11, atol=1e-12)


#: sizes the test helpers bind by name (an output size H-2 they cannot evaluate)
NAMED_SIZES = sorted(set(CASES) - {"conv_symbolic_valid"})


@pytest.mark.parametrize("name", NAMED_SIZES)
def test_central_differences_and_dot_product(name: str) -> None:
    built = build(CASES[name][0])
    binds = [SIZES, {**SIZES, "N": 1, "C": 1, "F": 1}]
    assert check_program(built, binds) == 2


def test_central_differences_at_output_size_h_minus_2() -> None:
    built = build(CASES["conv_symbolic_valid"][0])
    rng = np.random.default_rng(seed_of("conv-fd-valid"))
    point = sample(built, SIZES, rng)
    value = built.forward(point)
    assert np.shape(value) == (2, 2, 3, 3)
    c = rng.standard_normal(np.shape(value))
    _, grads = built.forward_backward(point, c)
    named = dict(zip(built.wrt, grads, strict=True))
    check_vjp(built.forward, point, c, named)
    check_dot_product(built.forward, point, c, named, rng)


def test_symbolic_output_sizes() -> None:
    """H stays H for a 3x3 filter with padding 1, H-2 without; the module's SHAPES."""
    same = build(CASES["conv_symbolic_same"][0])
    assert same.types["f"].shape == ("N", "F", "H", "W")
    valid = build(CASES["conv_symbolic_valid"][0])
    assert [dim_text(d) for d in valid.types["f"].shape] == ["N", "F", "H - 2", "W - 1"]
    strided = build(
        "x: array[N, C, H, W]\nw: array[F, C, 3, 3]\nf = conv2d(x, w, stride=2)"
    )
    assert dim_text(strided.types["f"].shape[2]) == "(H - 3)//2 + 1"


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_named_sizes_pool_to_h_over_k_checked_when_called(pool: str) -> None:
    """H//2: the module's pooling raises a clear ValueError for an odd size."""
    built = build(f"x: array[N, C, H, W]\nf = {pool}(x, 2)")
    assert [dim_text(d) for d in built.types["f"].shape] == ["N", "C", "H//2", "W//2"]
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 4))
    want = getattr(F, pool)(torch.tensor(x), 2).numpy()
    np.testing.assert_allclose(built.module.forward(x), want, rtol=1e-15)
    with pytest.raises(
        ValueError, match=f"{pool}: sizes \\(5, 4\\) not divisible by 2"
    ):
        built.module.forward(np.zeros((2, 3, 5, 4)))


def test_max_pool_ties_split_evenly_as_max() -> None:
    """A window of four equal values gives each a quarter of its gradient; two tied
    maxima a half each: the convention of max(x, axis=...), stated in the header.
    PyTorch's max_pool2d gives the whole gradient to one element."""
    source = "x: array[1, 1, 2, 4]\nf = max_pool2d(x, 2)"
    text = generate(source, Options())
    assert "split evenly among tied elements" in text
    module = load_module(text, "ties")
    x = np.array([[[[1.0, 1.0, 3.0, 3.0], [1.0, 1.0, 0.0, 2.0]]]])
    _, (dx,) = module.forward_backward(x, np.array([[[[4.0, 2.0]]]]))
    np.testing.assert_array_equal(dx, [[[[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]]]])
    same = load_module(generate("x: array[1, 1, 2, 4]\nf = max(x)", Options()), "m")
    _, (dmax,) = same.forward_backward(x[:, :, :, :2], 4.0)
    np.testing.assert_array_equal(dmax, [[[[1.0, 1.0], [1.0, 1.0]]]])
    tx = torch.tensor(x, requires_grad=True)
    F.max_pool2d(tx, 2).backward(torch.tensor([[[[4.0, 2.0]]]], dtype=torch.float64))
    assert sorted(tx.grad.flatten().tolist()).count(0.0) == 6  # one element each
    tm = load_module(generate(source, Options(backend="torch")), "ties_torch")
    _, (tdx,) = tm.forward_backward(torch.tensor(x), torch.tensor([[[[4.0, 2.0]]]]))
    np.testing.assert_array_equal(tdx.numpy(), dx)


@pytest.mark.parametrize("name", ["conv_stride_padding", "conv_relu_pool", "avg_pool"])
def test_jvp_equals_torch_func_jvp(name: str) -> None:
    source, reference = CASES[name]
    built = build(source)
    module = load_module(generate(source, Options(mode=("grad", "jvp"))), "jvp_conv")
    rng = np.random.default_rng(seed_of("conv-jvp", name))
    args = _point(built, rng)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    value, tangent = module.jvp(*args, *tangents)
    want_value, want_tangent = torch.func.jvp(
        reference,
        tuple(torch.tensor(a) for a in args),
        tuple(torch.tensor(t) for t in tangents),
    )
    np.testing.assert_allclose(value, want_value.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, want_tangent.numpy(), rtol=1e-11, atol=1e-12)


def test_hvp_equals_torch_double_backward() -> None:
    """A scalar loss through conv, tanh and both poolings: H v against
    torch.autograd.functional.hvp."""
    source = (
        "x: array[N, 2, 4, 4]\nw: array[3, 2, 3, 3]\n"
        "h = tanh(conv2d(x, w, padding=1))\n"
        "f = sum(avg_pool2d(max_pool2d(h, 2), 2) ** 2) + sum(h * h * h)"
    )
    module = load_module(generate(source, Options(mode=("grad", "hvp"))), "hvp_conv")
    rng = np.random.default_rng(seed_of("conv-hvp"))
    x, w = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3))
    vx, vw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)

    def loss(x, w):
        h = torch.tanh(F.conv2d(x, w, padding=1))
        return (F.avg_pool2d(F.max_pool2d(h, 2), 2) ** 2).sum() + (h * h * h).sum()

    args = (torch.tensor(x), torch.tensor(w))
    _, (hx, hw) = torch.autograd.functional.hvp(
        loss, args, (torch.tensor(vx), torch.tensor(vw))
    )
    _, _, hvp = module.hvp(x, w, vx, vw)
    np.testing.assert_allclose(hvp[0], hx.numpy(), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(hvp[1], hw.numpy(), rtol=1e-10, atol=1e-11)


def test_layer_target_minimal_cache(tmp_path) -> None:
    """--target layer --name conv_relu_pool: the pair equals the flat module; the
    cache holds what the backward reads and no more."""
    program = tmp_path / "crp.bp"
    program.write_text(CONV_RELU_POOL + "\n", encoding="utf-8")
    out = tmp_path / "crp.py"
    argv = ["-f", str(program), "--target", "layer", "--name", "conv_relu_pool"]
    assert cli.main([*argv, "-o", str(out)]) == 0
    layer = load_module(out.read_text(encoding="utf-8"), "crp")
    built = build(CONV_RELU_POOL)
    rng = np.random.default_rng(seed_of("conv-layer"))
    args = _point(built, rng)
    value, cache = layer.conv_relu_pool_forward(*args)
    upstream = rng.standard_normal(np.shape(value))
    want, grads = built.module.forward_backward(*args, upstream)
    np.testing.assert_array_equal(value, want)
    for g, expected in zip(
        layer.conv_relu_pool_backward(upstream, cache), grads, strict=True
    ):
        np.testing.assert_array_equal(g, expected)
    # x and w (the gradients read them), b's shape (db is shaped like b), the ReLU's
    # output and the pooled value (max_pool2d's gradient compares them)
    assert cache._fields == ("x", "w", "b_shape", "t4", "f")
    assert cache.b_shape == (5,)


def test_torch_function_passes_gradcheck_and_gradgradcheck() -> None:
    text = generate(
        CONV_RELU_POOL,
        Options(backend="torch", target="function"),
    )
    module = load_module(text, "crp_function")
    rng = np.random.default_rng(seed_of("conv-gradcheck"))
    args = (
        torch.tensor(rng.standard_normal((2, 3, 6, 4)), requires_grad=True),
        torch.tensor(rng.standard_normal((5, 3, 3, 3)), requires_grad=True),
        torch.tensor(rng.standard_normal(5), requires_grad=True),
    )
    assert "torch.nn.functional.conv2d" in text
    assert "torch.nn.functional.max_pool2d" in text
    assert torch.autograd.gradcheck(module.apply, args)
    assert torch.autograd.gradgradcheck(module.apply, args)


def test_verify_passes(tmp_path) -> None:
    program = tmp_path / "crp.bp"
    program.write_text(CASES["conv_symbolic_same"][0] + "\n", encoding="utf-8")
    assert cli.main(["-f", str(program), "-o", str(tmp_path / "o.py"), "--verify"]) == 0


def test_printed_forms() -> None:
    """numpy: im2col defined once, the forward and the filter gradient einsums of the
    windows, the input gradient col2im of the upstream times the filters."""
    text = generate(CONV_RELU_POOL, Options())
    assert text.count("def im2col(") == 1
    assert text.count("def col2im(") == 1
    assert "sliding_window_view" in text
    assert 'np.einsum("nchwij,fcij->nfhw", im2col(x, 3, 3, 1, 1), w' in text
    assert 'col2im(np.einsum("nfhw,fcij->nchwij", ' in text
    assert 'np.einsum("nfhw,nchwij->fcij", ' in text
    assert "def im2col(" not in generate("x: array[N]\nf = sum(x * x)", Options())


ERRORS = {
    "image_rank": (
        "x: array[N, 3, 8]\nw: array[4, 3, 3, 3]\nf = conv2d(x, w)",
        ["NCHW images of rank 4", "(N, 3, 8)"],
    ),
    "filter_rank": (
        "x: array[N, 3, 8, 8]\nw: array[4, 3, 3]\nf = conv2d(x, w)",
        ["filters of rank 4", "(4, 3, 3)"],
    ),
    "channels_differ": (
        "x: array[N, 3, 8, 8]\nw: array[4, 2, 3, 3]\nf = conv2d(x, w)",
        ["channels differ", "3", "2"],
    ),
    "kernel_too_large": (
        "x: array[N, 3, 4, 4]\nw: array[4, 3, 5, 5]\nf = conv2d(x, w, padding=0)",
        ["larger than the padded image"],
    ),
    "pool_not_dividing": (
        "x: array[N, 3, 5, 4]\nf = max_pool2d(x, 2)",
        ["divisible by 2, got 5"],
    ),
    "pool_size_not_literal": (
        "x: array[N, 3, 4, 4]\nk: float\nf = max_pool2d(x, k)",
        ["window size must be an integer literal"],
    ),
    "stride_zero": (
        "x: array[N, 3, 4, 4]\nw: array[4, 3, 3, 3]\nf = conv2d(x, w, stride=0)",
        ["stride=...) must be an integer literal >= 1"],
    ),
    "symbolic_filter": (
        "x: array[N, 3, 4, 4]\nw: array[4, 3, K, K]\nf = conv2d(x, w)",
        ["filter size K must be an integer literal"],
    ),
    "pool_scalar": (
        "x: float\nf = max_pool2d(x, 2)",
        ["works on arrays"],
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_input_is_one_line_exit_2(name: str, tmp_path, capsys) -> None:
    source, needles = ERRORS[name]
    line = one_line_error(source, tmp_path, capsys)
    for needle in needles:
        assert needle in line, line


def test_gallery_convnet_flat_and_layer_equal_torch_autograd() -> None:
    """generated/convnet.py and generated/convnet_layer.py (CS231n's three-layer
    convnet): the loss and every gradient against PyTorch autograd in float64."""
    import importlib

    flat = importlib.import_module("generated.convnet")
    layer = importlib.import_module("generated.convnet_layer")
    rng = np.random.default_rng(seed_of("conv-gallery"))
    n, hidden, classes = 3, 5, 4
    args = [
        rng.standard_normal((n, 3, 32, 32)),
        rng.standard_normal((32, 3, 3, 3)),
        rng.standard_normal(32),
        rng.standard_normal((8192, hidden)) * 0.05,
        rng.standard_normal(hidden),
        rng.standard_normal((hidden, classes)),
        rng.standard_normal(classes),
    ]
    y = rng.integers(0, classes, n)
    leaves = [torch.tensor(a, requires_grad=True) for a in args]
    x, w1, b1, w2, b2, w3, b3 = leaves
    h = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=1)), 2)
    scores = F.relu(h.reshape(n, -1) @ w2 + b2) @ w3 + b3
    want = F.cross_entropy(scores, torch.tensor(y))
    want.backward()
    loss, grads = flat.forward_backward(*args, y)
    out, cache = layer.convnet_forward(*args, y)
    layer_grads = layer.convnet_backward(1.0, cache)
    for value in (loss, out):
        np.testing.assert_allclose(value, want.item(), rtol=1e-12)
    for got in (grads, layer_grads):
        for g, leaf in zip(got, leaves, strict=True):
            np.testing.assert_allclose(g, leaf.grad.numpy(), rtol=1e-10, atol=1e-12)
