"""The gallery's transformer block (examples/transformer_block.bp): its value and every
gradient against the same block in PyTorch autograd (float64; layer_norm, softmax
under a causal -inf mask, gelu(approximate="tanh")), the torch backend's module and
its ``torch.autograd.Function`` (gradcheck and gradgradcheck), ``--mode grad,jvp,hvp``
against ``torch.func.jvp`` and a double-backward hvp, ``--verify`` and ``--graph``."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, GENERATED, REPO

from codegen.evaluate import load_module
from codegen.generate import Options, compile_source, generate

torch = pytest.importorskip("torch")
F = torch.nn.functional

SOURCE = (EXAMPLES / "transformer_block.bp").read_text(encoding="utf-8")
#: distinct sizes (F = 4 D as in the block), so a swapped axis cannot go unnoticed
SIZES = {"B": 2, "T": 5, "D": 8, "NH": 2, "E": 3, "F": 32}
#: a smaller binding for gradcheck and gradgradcheck (numerical Jacobians)
TINY = {"B": 2, "T": 3, "D": 4, "NH": 2, "E": 2, "F": 16}
WRT = ("X", "g1", "b1", "Wq", "Wk", "Wv", "Wo", "g2", "b2", "W1", "c1", "W2", "c2", "R")


def reference(X, mask, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, R, causal=True):
    """The block as PyTorch writes it: heads split by reshaping (D, NH*E) projections,
    a causal mask of -inf from torch.tril (``mask`` is not read)."""
    B, T, D = X.shape
    _, NH, E = Wq.shape

    def heads(W):  # (B, NH, T, E)
        return (h1 @ W.reshape(D, NH * E)).reshape(B, T, NH, E).transpose(1, 2)

    h1 = F.layer_norm(X, (D,), g1, b1, eps=1e-5)
    q, k, v = heads(Wq), heads(Wk), heads(Wv)
    scores = q @ k.transpose(-1, -2) / math.sqrt(E)
    if causal:
        hidden = ~torch.tril(torch.ones(T, T, dtype=torch.bool))
        scores = scores.masked_fill(hidden, float("-inf"))
    o = torch.softmax(scores, dim=-1) @ v
    x1 = X + o.transpose(1, 2).reshape(B, T, NH * E) @ Wo.reshape(NH * E, D)
    h2 = F.layer_norm(x1, (D,), g2, b2, eps=1e-5)
    y = x1 + F.gelu(h2 @ W1 + c1, approximate="tanh") @ W2 + c2
    return (y * R).sum()


def inputs(sizes: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Float64 inputs of the block's declared shapes; ``mask`` the causal 0/1 mask."""
    compiled = compile_source(SOURCE, Options())
    rng = np.random.default_rng(seed)
    point = {}
    for name in compiled.forward.inputs:
        shape = [
            sizes[d] if isinstance(d, str) else d
            for d in compiled.forward.types[name].shape
        ]
        point[name] = rng.standard_normal(shape) * (0.5 if name[0] == "W" else 1.0)
    point["mask"] = np.tril(np.ones((sizes["T"], sizes["T"])))
    return point


def tensors(point, requires_grad=True):
    return {
        n: torch.tensor(v, dtype=torch.float64).requires_grad_(
            requires_grad and n in WRT
        )
        for n, v in point.items()
    }


def assert_close(got, want, what: str, rtol: float = 1e-12) -> None:
    """Relative agreement over the whole array (elements near 0 are not singled out)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = max(float(np.max(np.abs(want))), 1e-300)
    err = float(np.max(np.abs(got - want))) / scale
    assert err <= rtol, f"{what}: relative error {err:.2e}"


def torch_gradients(point, causal=True):
    t = tensors(point)
    loss = reference(*t.values(), causal=causal)
    grads = torch.autograd.grad(loss, [t[n] for n in WRT])
    return loss.item(), dict(zip(WRT, (g.numpy() for g in grads), strict=True))


def test_the_gallery_module_is_the_example_without_mask_gradient() -> None:
    module = load_module((GENERATED / "transformer_block.py").read_text("utf-8"))
    assert module.WRT == WRT
    assert "mask" in module.INPUTS


@pytest.mark.parametrize("seed", [0, 1])
def test_value_and_every_gradient_agree_with_pytorch(seed: int) -> None:
    module = load_module((GENERATED / "transformer_block.py").read_text("utf-8"))
    point = inputs(SIZES, seed)
    args = [point[n] for n in module.INPUTS]
    value, grads = module.forward_backward(*args)
    want_value, want = torch_gradients(point)
    assert_close(value, want_value, "loss")
    assert_close(module.forward(*args), want_value, "forward")
    for name in WRT:
        assert_close(getattr(grads, name), want[name], name)


def test_a_mask_that_is_not_causal_changes_the_value() -> None:
    """The mask is read: with every key visible the loss differs from PyTorch's causal
    block (and agrees with its is_causal=False attention)."""
    module = load_module((GENERATED / "transformer_block.py").read_text("utf-8"))
    point = inputs(SIZES)
    point["mask"] = np.ones_like(point["mask"])
    value = module.forward(*(point[n] for n in module.INPUTS))
    causal, _ = torch_gradients(point)
    assert abs(value - causal) > 1e-6 * abs(causal)
    full, _ = torch_gradients(point, causal=False)
    assert_close(value, full, "loss without a mask")


def _generated(**options):
    return load_module(generate(SOURCE, Options(wrt=WRT, **options)))


def test_the_torch_module_agrees_with_pytorch() -> None:
    module = _generated(backend="torch")
    point = inputs(SIZES, 2)
    t = tensors(point, requires_grad=False)
    value, grads = module.forward_backward(*(t[n] for n in module.INPUTS))
    want_value, want = torch_gradients(point)
    assert_close(value.item(), want_value, "loss")
    for name in WRT:
        assert_close(getattr(grads, name).numpy(), want[name], name)


def test_the_function_agrees_and_passes_gradcheck_and_gradgradcheck() -> None:
    function = _generated(backend="torch", target="function")
    point = inputs(SIZES, 3)
    t = tensors(point)
    loss = function.apply(*(t[n] for n in function.INPUTS))
    grads = torch.autograd.grad(loss, [t[n] for n in WRT])
    want_value, want = torch_gradients(point)
    assert_close(loss.item(), want_value, "loss")
    for name, grad in zip(WRT, grads, strict=True):
        assert_close(grad.numpy(), want[name], name)
    tiny = tensors(inputs(TINY, 4))
    args = tuple(tiny[n] for n in function.INPUTS)
    assert torch.autograd.gradcheck(function.apply, args)
    assert torch.autograd.gradgradcheck(function.apply, args)


def test_jvp_and_hvp_agree_with_torch_func_and_double_backward() -> None:
    module = _generated(mode=("grad", "jvp", "hvp"))
    point = inputs(SIZES, 5)
    rng = np.random.default_rng(6)
    tangent = {n: rng.standard_normal(v.shape) for n, v in point.items()}
    tangent["mask"] = np.zeros_like(point["mask"])
    args = [point[n] for n in module.INPUTS]
    dots = [tangent[n] for n in module.WRT]
    value, value_dot = module.jvp(*args, *dots)
    t, v = tensors(point, requires_grad=False), tensors(tangent, requires_grad=False)
    primal = tuple(t[n] for n in module.INPUTS)
    want, want_dot = torch.func.jvp(reference, primal, tuple(v[n] for n in t))
    assert_close(value, want.item(), "jvp value")
    assert_close(value_dot, want_dot.item(), "jvp tangent")
    hv_value, grads, hv = module.hvp(*args, *dots)[:3]
    t = tensors(point)
    loss = reference(*t.values())
    first = torch.autograd.grad(loss, [t[n] for n in WRT], create_graph=True)
    directional = sum((g * v[n]).sum() for g, n in zip(first, WRT, strict=True))
    second = torch.autograd.grad(directional, [t[n] for n in WRT])
    assert_close(hv_value, loss.item(), "hvp value")
    for name, g, h in zip(WRT, first, second, strict=True):
        assert_close(getattr(grads, name), g.detach().numpy(), name)
        assert_close(getattr(hv, name), h.numpy(), "H v " + name, rtol=1e-11)


def test_verify_passes_on_the_gallery_module() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "--verify"]
        + [str(GENERATED / "transformer_block.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: all" in result.stdout


def test_the_graph_draws_the_program_statements_as_gates(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "cli.py"),
            "-f",
            str(EXAMPLES / "transformer_block.bp"),
        ]
        + ["--graph", str(tmp_path / "block.dot"), "-o", str(tmp_path / "block.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    dot = (tmp_path / "block.dot").read_text(encoding="utf-8")
    gates = [line for line in dot.splitlines() if "shape=box" in line]
    names = [line.split('"')[1] for line in gates]
    assert names == "H1 Q K V S P A X1 H2 U G Y loss".split()
    assert "softmax(where(mask &gt; 0, S, -1e9), axis=-1)" in dot
    assert "(B, NH, T, T)" in dot  # the scores' shape on their wire
    assert (tmp_path / "block.py").is_file()


def test_cubes_print_as_products_in_numpy() -> None:
    """NumPy's ``a**3`` calls pow per element (about 100x two multiplies, the GELU's
    cost in the block): the numpy backend prints ``U * U * U``; torch keeps ``U**3``."""
    assert "t30 = U * U * U  # (B, T, F)" in (
        GENERATED / "transformer_block.py"
    ).read_text(encoding="utf-8")
    source = "a: array[N]\nf = sum(a**3 + 2 * a**4)"
    text = generate(source, Options())
    assert (
        "a * a * a" in text
        and "a * a * a * a" in text
        and "**3" not in text.split("# backward")[0].split('"""')[-1]
    )
    module = load_module(text)
    a = np.linspace(-2.0, 2.0, 7)
    value, (da,) = module.forward_backward(a)
    assert_close(value, float(np.sum(a**3 + 2 * a**4)), "value", rtol=1e-15)
    assert_close(da, 3 * a**2 + 8 * a**3, "gradient", rtol=1e-15)
    assert "a**3" in generate(source, Options(backend="torch")).split('"""')[-1]
