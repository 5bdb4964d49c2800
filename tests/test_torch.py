"""--backend torch and --target function: the same programs printed with PyTorch ops.
The Function passes torch.autograd.gradcheck and gradgradcheck in float64 (double
backward right, not merely running), values equal the numpy modules', integer inputs
and inputs outside WRT get None, and no_grad, non-contiguous inputs and inputs that
require no grad all work.  Skipped without PyTorch (CI installs it)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from array_helpers import bindings, build, concrete, sample, seed_of
from conftest import EXAMPLES

from codegen.errors import OptionError
from codegen.evaluate import load_module
from codegen.generate import Options, compile_source, generate

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="PyTorch is not installed (pip install '.[torch]')",
)

#: example -> integer labels' bounds
PROGRAMS: dict[str, dict[str, object]] = {
    "sigmoid_chain": {},
    "two_layer_net": {"y": "C"},
    "svm_loss": {"y": "C"},
    "svm_loss_batched": {"y": "C"},
    "batchnorm": {},
    "affine_relu": {},
    "gradient_penalty": {},
}
SMALL = {"N": 4, "D": 3, "H": 3, "C": 5, "M": 2}


def _source(name: str) -> str:
    return (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8")


def _module(name: str, **options):
    return load_module(generate(_source(name), Options(backend="torch", **options)))


def _tensors(name: str, requires_grad: bool = True):
    import torch

    compiled = compile_source(_source(name), Options())
    gen = torch.Generator().manual_seed(seed_of("torch", name) % 2**31)
    args = []
    for n in compiled.forward.inputs:
        t = compiled.forward.types.get(n)
        shape = concrete(t.shape, SMALL) if t is not None else ()
        if t is not None and t.dtype == "int":
            args.append(torch.randint(0, SMALL["C"], shape, generator=gen))
        else:
            value = torch.randn(shape, generator=gen, dtype=torch.float64)
            args.append(value.requires_grad_(requires_grad and n in compiled.wrt))
    return compiled, args


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_function_passes_gradcheck_and_gradgradcheck(name: str) -> None:
    import torch

    module = _module(name, target="function")
    _, args = _tensors(name)
    assert torch.autograd.gradcheck(module.apply, tuple(args))
    assert torch.autograd.gradgradcheck(module.apply, tuple(args))
    assert module.apply == module.Function.apply


def test_the_double_backward_trap_is_real() -> None:
    """Without the taped recomputation the saved softmax is a constant to autograd:
    gradcheck still passes and gradgradcheck fails (the trap the design avoids)."""
    import torch
    from torch.autograd.gradcheck import GradcheckError

    text = generate(
        _source("two_layer_net"), Options(backend="torch", target="function")
    )
    assert "if torch.is_grad_enabled():" in text
    trapped = load_module(text.replace("if torch.is_grad_enabled():", "if False:"))
    _, args = _tensors("two_layer_net")
    assert torch.autograd.gradcheck(trapped.apply, tuple(args))
    with pytest.raises(GradcheckError):
        torch.autograd.gradgradcheck(trapped.apply, tuple(args))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_torch_values_equal_the_numpy_modules(name: str) -> None:
    import torch

    source = _source(name)
    flat = build(source)
    torch_module = _module(name)
    function = _module(name, target="function")
    for bind in bindings(flat.symbols())[:3]:
        rng = np.random.default_rng(seed_of("torch-values", name, sorted(bind.items())))
        point = sample(flat, bind, rng, labels=PROGRAMS[name])
        args = [point[n] for n in flat.inputs]
        shape = np.shape(flat.module.forward(*args))
        upstream = rng.standard_normal(shape) if shape else 1.0
        value, grads = flat.module.forward_backward(*args, upstream)
        targs = [torch.as_tensor(np.asarray(a)) for a in args]
        t_value, t_grads = torch_module.forward_backward(
            *targs, torch.as_tensor(upstream)
        )
        np.testing.assert_allclose(t_value.numpy(), value, rtol=1e-12, atol=1e-12)
        for g, t in zip(grads, t_grads, strict=True):
            np.testing.assert_allclose(t.numpy(), g, rtol=1e-12, atol=1e-12)
        # the Function: its gradients through torch.autograd equal the same
        leaves = [
            (
                t.clone().double().requires_grad_(n in flat.wrt)
                if t.dtype.is_floating_point
                else t
            )
            for n, t in zip(flat.inputs, targs, strict=True)
        ]
        out = function.apply(*leaves)
        out.backward(torch.as_tensor(upstream, dtype=torch.float64))
        for n, g in zip(flat.wrt, grads, strict=True):
            got = leaves[flat.inputs.index(n)].grad
            np.testing.assert_allclose(got.numpy(), g, rtol=1e-12, atol=1e-12)


def test_integer_inputs_and_inputs_outside_wrt_get_none() -> None:
    import torch

    module = load_module(
        generate(
            _source("two_layer_net"),
            Options(backend="torch", target="function", wrt=("W1", "W2")),
        )
    )
    _, args = _tensors("two_layer_net")
    args = [a.detach().requires_grad_(a.dtype.is_floating_point) for a in args]
    loss = module.apply(*args)
    grads = torch.autograd.grad(
        loss, [a for a in args if a.requires_grad], allow_unused=True
    )
    names = [n for n, a in zip(module.INPUTS, args, strict=True) if a.requires_grad]
    for name, grad in zip(names, grads, strict=True):
        assert (grad is None) == (name not in ("W1", "W2")), name
    # needs_input_grad: nothing asked for W2, so it gets None
    args[3] = args[3].detach()
    loss = module.apply(*args)
    loss.backward()
    assert args[3].grad is None and args[1].grad is not None


def test_no_grad_non_contiguous_and_inputs_without_grad() -> None:
    import torch

    function = _module("two_layer_net", target="function")
    flat = _module("two_layer_net")
    _, args = _tensors("two_layer_net", requires_grad=False)
    with torch.no_grad():
        value = function.apply(*args)
    assert not value.requires_grad
    assert float(value) == pytest.approx(float(flat.forward(*args)), rel=1e-15)
    # non-contiguous: the transposes of contiguous arrays
    X, W1 = args[0], args[1]
    args_t = list(args)
    args_t[0] = X.T.contiguous().T
    args_t[1] = W1.T.contiguous().T.requires_grad_(True)
    assert not args_t[0].is_contiguous() or X.shape[0] == 1
    loss = function.apply(*args_t)
    loss.backward()
    _, grads = flat.forward_backward(*args)
    np.testing.assert_allclose(args_t[1].grad.numpy(), grads.W1.numpy(), rtol=1e-13)


def test_function_target_needs_the_torch_backend() -> None:
    with pytest.raises(OptionError, match="needs the torch backend"):
        generate("x * y", Options(target="function"))


def test_missing_torch_is_one_line(monkeypatch) -> None:
    import importlib.util as util

    real = util.find_spec
    monkeypatch.setattr(
        util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(
        OptionError,
        match=r"pip install torch \(in a backpropgen checkout: pip install '\.\[torch\]'\)",
    ):
        generate("x * y", Options(backend="torch"))


def test_torch_module_never_names_a_device() -> None:
    for name in PROGRAMS:
        for target in ("flat", "function"):
            text = generate(_source(name), Options(backend="torch", target=target))
            assert "cuda" not in text and "cpu" not in text.lower().replace(
                "cpu build", ""
            )
            assert "np." not in text


def test_function_with_several_outputs_and_a_torch_layer() -> None:
    import torch

    module = load_module(
        generate(
            "u = x*y; v = sin(x) + y*y\nu, v",
            Options(backend="torch", target="function"),
        )
    )
    gen = torch.Generator().manual_seed(5)
    x, y = (
        torch.randn(3, generator=gen, dtype=torch.float64).requires_grad_(True)
        for _ in range(2)
    )
    assert torch.autograd.gradcheck(module.apply, (x, y))
    assert torch.autograd.gradgradcheck(module.apply, (x, y))
    layer = load_module(
        generate(
            "X: array[N, D]\nW: array[D, M]\nout = tanh(X @ W)",
            Options(backend="torch", target="layer"),
        )
    )
    X = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    W = torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    out, cache = layer.layer_forward(X, W)
    dout = torch.randn(4, 2, generator=gen, dtype=torch.float64)
    grads = layer.layer_backward(dout, cache)
    (want,) = torch.autograd.grad(torch.tanh(X @ W), W, dout)
    torch.testing.assert_close(grads.W, want, rtol=1e-13, atol=1e-15)


#: programs with functions of plain numbers (a size, constants): GELU's sqrt(2 / pi),
#: attention's sqrt(D), a Gaussian likelihood's log(2 * pi)
NUMBER_PROGRAMS = {
    "gelu_mlp": "X: array[N, D]\nW: array[D, H]\nh = X @ W\n"
    "g = 0.5 * h * (1 + tanh(sqrt(2 / pi) * (h + 0.044715 * h**3)))\nf = sum(g)",
    "attention": "Q: array[N, D]\nK: array[M, D]\nV: array[M, D]\n"
    "S = softmax(Q @ transpose(K) / sqrt(D), axis=1)\nf = sum(S @ V)",
    "gaussian_nll": "x: array[N]\nmu: array[N]\ns: array[N]\nc = 3\n"
    "f = sum(0.5 * log(2 * pi) + 0.5 * log(s * s) + 0.5 * ((x - mu) / s)**2 + exp(-c))",
    "scaled_sum": "X: array[N, D]\nf = sum(X) / sqrt(D) + log1p(D) * sum(X * X)"
    " + logaddexp(D, 1) * sum(max(X, 1 / D))",
    # the stable and gate functions of constants: printed as the math backend does
    "stable_constants": "X: array[N, D]\nf = sum(X) * sigmoid(2) + softplus(D) * sum(X)"
    " + log_sigmoid(1) * sum(X * X) + sum(relu(X)) * tanh(D) + abs(3 - D) * sum(X)",
}


@pytest.mark.parametrize("name", sorted(NUMBER_PROGRAMS))
def test_functions_of_plain_numbers(name: str) -> None:
    """A function of a size or of constants (a Python number, not a tensor) is
    computed with math, not torch (torch.sqrt(3) raises TypeError): the flat module's
    and the Function's values and gradients equal the numpy module's."""
    import torch

    source = NUMBER_PROGRAMS[name]
    flat = build(source)
    torch_module = load_module(generate(source, Options(backend="torch")))
    function = load_module(
        generate(source, Options(backend="torch", target="function"))
    )
    for bind in bindings(flat.symbols())[:2]:
        rng = np.random.default_rng(
            seed_of("torch-numbers", name, sorted(bind.items()))
        )
        point = sample(flat, bind, rng)
        args = [point[n] for n in flat.inputs]
        value, grads = flat.module.forward_backward(*args)
        targs = [torch.as_tensor(np.asarray(a)) for a in args]
        t_value, t_grads = torch_module.forward_backward(*targs)
        np.testing.assert_allclose(t_value.numpy(), value, rtol=1e-12, atol=1e-12)
        for g, t in zip(grads, t_grads, strict=True):
            np.testing.assert_allclose(t.numpy(), g, rtol=1e-12, atol=1e-12)
        leaves = [t.clone().requires_grad_(True) for t in targs]
        function.apply(*leaves).backward()
        for n, g in zip(flat.wrt, grads, strict=True):
            got = leaves[flat.inputs.index(n)].grad
            np.testing.assert_allclose(got.numpy(), g, rtol=1e-12, atol=1e-12)
