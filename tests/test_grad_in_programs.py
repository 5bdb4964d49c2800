"""grad(y, x) inside programs: the gradient of an earlier scalar value, usable by later
statements, differentiated again with the rest (backpropagating twice); checked against
SymPy, central differences and, where installed, PyTorch's double backward."""

from __future__ import annotations

import importlib.util
import random

import numpy as np
import pytest
import sympy
from array_helpers import bindings, concrete, seed_of
from conftest import EXAMPLES, load, load_generated
from oracles import assert_fd_close, fd_step, sympy_at

from codegen.errors import InputError
from codegen.generate import Options, compile_source, generate
from codegen.symbolic import to_sympy

SCALAR_PROGRAMS = [
    # (source, the meaning of its output in x and y)
    ("f = x*x*y; g = grad(f, x); out = g * g + x", lambda x, y: (2 * x * y) ** 2 + x),
    (
        "f = sin(x) * exp(y); g = grad(f, y); h = grad(g, x); out = h + g",
        lambda x, y: sympy.cos(x) * sympy.exp(y) + sympy.sin(x) * sympy.exp(y),
    ),
    # nested: a third derivative of x**4 * y
    (
        "f = x**4 * y; g = grad(f, x); h = grad(g, x); k = grad(h, x); out = k * y",
        lambda x, y: 24 * x * y * y,
    ),
    # y does not depend on x: the inner gradient is 0
    ("f = y * y; g = grad(f, x); out = g + f", lambda x, y: y * y),
]


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize(("source", "meaning"), SCALAR_PROGRAMS)
def test_grad_in_scalar_programs_against_sympy(source, meaning, backend) -> None:
    opts = Options(backend=backend, inputs=("x", "y"))
    compiled = compile_source(source, opts)
    x, y = sympy.symbols("x y", real=True)
    want = meaning(x, y)
    got = to_sympy(compiled.forward)[compiled.forward.outputs[0]]
    assert sympy.simplify(got - want) == 0
    module = load(source, opts)
    rng = random.Random(source)
    for _ in range(3):
        px, py = rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)
        at = {x: px, y: py}
        value, grads = module.forward_backward(px, py)
        assert float(value) == pytest.approx(sympy_at(want, at), rel=1e-12)
        for symbol, g in zip((x, y), grads, strict=True):
            assert float(g) == pytest.approx(
                sympy_at(sympy.diff(want, symbol), at), rel=1e-10, abs=1e-12
            )


def test_the_forward_section_says_where_the_inner_backward_is() -> None:
    text = generate("f = x*x*y; g = grad(f, x); out = g * g", Options(backend="math"))
    forward = text.split("def forward(", 1)[1].split("def forward_backward(")[0]
    assert "# grad(f, x): backpropagation inside the program" in forward
    assert "g = df_dx" in forward


def _penalty_point(bind, rng):
    n, d, h = bind["N"], bind["D"], bind["H"]
    return {
        "X": rng.standard_normal((n, d)),
        "W1": rng.standard_normal((d, h)) * 0.5,
        "b1": rng.standard_normal(h) * 0.5,
        "w2": rng.standard_normal(h),
    }


def test_gradient_penalty_against_central_differences() -> None:
    module = load_generated("gradient_penalty")
    assert module.WRT == ("W1", "b1", "w2")
    checked = 0
    for bind in bindings(["N", "D", "H"]):
        rng = np.random.default_rng(seed_of("penalty", sorted(bind.items())))
        point = _penalty_point(bind, rng)
        args = [point[n] for n in module.INPUTS]
        value, grads = module.forward_backward(*args)
        assert float(value) == module.forward(*args)
        for name, grad in zip(module.WRT, grads, strict=True):
            assert np.shape(grad) == concrete(np.shape(point[name]), bind)
            fd = np.zeros_like(point[name])
            for index in np.ndindex(np.shape(point[name])):
                h = fd_step(float(point[name][index]))
                up = {**point, name: point[name].copy()}
                down = {**point, name: point[name].copy()}
                up[name][index] += h
                down[name][index] -= h
                f_up = module.forward(*(up[n] for n in module.INPUTS))
                f_down = module.forward(*(down[n] for n in module.INPUTS))
                fd[index] = (f_up - f_down) / (up[name][index] - down[name][index])
            assert_fd_close(grad, fd, abs(float(value)), f"d{name}")
        checked += 1
    assert checked >= 2


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="PyTorch is not installed (pip install '.[torch]')",
)
def test_gradient_penalty_against_torch_double_backward() -> None:
    import torch

    module = load_generated("gradient_penalty")
    rng = np.random.default_rng(11)
    point = _penalty_point({"N": 5, "D": 4, "H": 3}, rng)
    t = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in point.items()
    }
    h = torch.tanh(t["X"] @ t["W1"] + t["b1"])
    critic = (h @ t["w2"]).sum()
    (g_x,) = torch.autograd.grad(critic, t["X"], create_graph=True)
    penalty = ((g_x.pow(2).sum(dim=1).sqrt() - 1) ** 2).mean()
    want = torch.autograd.grad(penalty, [t["W1"], t["b1"], t["w2"]])
    value, grads = module.forward_backward(*(point[n] for n in module.INPUTS))
    assert float(value) == pytest.approx(penalty.item(), rel=1e-12)
    for got, expected in zip(grads, want, strict=True):
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "X: array[N]\nf = X * 2\ng = grad(f, X)\nout = sum(g)",
            "must be a float scalar",
        ),
        ("f = x * y\ng = grad(f, f)\nout = g", "'f' is not an input"),
        ("g = grad(f, x)\nf = x * x\nout = g", "used before it is assigned"),
        ("g = grad(q, x)\nout = g * x", "'q' is not a value assigned before"),
        ("y: int\nf = x * y\ng = grad(f, y)\nout = g", "'y' is an int input"),
        ("f = x * x\ng = grad(f * 2, x)\nout = g", "takes two names"),
        ("f = x * x\ng = grad(f)\nout = g", "grad"),
    ],
)
def test_bad_grad_calls(source: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        generate(source)


def test_the_example_file_is_the_gallery_source() -> None:
    assert "grad(critic, X)" in (EXAMPLES / "gradient_penalty.bp").read_text()
