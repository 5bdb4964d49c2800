"""The targets table: every target × backend × mode combination either generates a
module that defines each function its header lists, or is refused in one line; the
names a target's layout defines are refused in programs under that target; the
function target writes jvp and hvp beside the torch.autograd.Function."""

from __future__ import annotations

import itertools
from types import ModuleType

import pytest

import cli
from codegen.backends import BACKENDS
from codegen.errors import OptionError
from codegen.evaluate import load_module
from codegen.generate import Options, generate
from codegen.modes import MODES
from codegen.naming import RESERVED
from codegen.targets import TARGETS

torch = pytest.importorskip("torch")

SCALAR = "f = x * sin(y) + exp(x * y)"
ARRAYS = "X: array[N, D]\nW: array[D, M]\nreg: float\nf = sum(tanh(X @ W)) + reg * sum(W * W)"
MODE_SETS = [("grad",), *(("grad", m) for m in MODES[1:]), MODES]


def _listed(text: str) -> list[str]:
    """The function names the header's cost line lists (every function it counts)."""
    doc = text.split('"""')[1]
    line = " ".join(doc[doc.index("Cost in operations") :].split("\n\n")[0].split())
    counted = line.split("): ", 1)[1].rstrip(".")
    return [part.split(" ")[0] for part in counted.split(", ")]


def _functions_line(text: str) -> str:
    doc = text.split('"""')[1]
    return " ".join(doc[doc.index("Functions:") : doc.index("Cost in")].split())


def _defined(module: ModuleType, dotted: str) -> bool:
    value: object = module
    for part in dotted.split("."):
        if not hasattr(value, part):
            return False
        value = getattr(value, part)
    return callable(value)


@pytest.mark.parametrize(
    ("target", "backend", "modes", "source"),
    [
        (t, b, m, s)
        for t, b, m, s in itertools.product(
            TARGETS, BACKENDS, MODE_SETS, (SCALAR, ARRAYS)
        )
    ],
)
def test_the_header_lists_only_functions_the_module_defines(
    target: str, backend: str, modes: tuple[str, ...], source: str
) -> None:
    options = Options(backend=backend, target=target, mode=modes)
    try:
        text = generate(source, options)
    except OptionError as error:  # a refusal: one line naming the option
        assert "\n" not in str(error) and str(error)
        return
    module = load_module(text)
    listed = _listed(text)
    assert listed, text
    for name in listed:
        assert _defined(module, name), f"the header lists {name}; no such function"
    line = _functions_line(text)
    for mode in modes[1:]:
        assert mode in line
        assert _defined(module, mode)
    for name in listed:
        assert name.split(".")[0] in line


def test_every_combination_of_the_table_is_written_or_refused() -> None:
    """Each target says, for every mode, what it writes or why it does not."""
    for target in TARGETS.values():
        assert set(target.writes) | set(target.refuses) == set(MODES)
        assert not set(target.writes) & set(target.refuses)
        assert "grad" in target.writes


def test_function_target_jvp_and_hvp_beside_the_function() -> None:
    module = load_module(
        generate(
            SCALAR,
            Options(backend="torch", target="function", mode=("grad", "jvp", "hvp")),
        )
    )
    gen = torch.Generator().manual_seed(17)
    x, y, u, v = (torch.randn(5, generator=gen, dtype=torch.float64) for _ in range(4))

    def f(x, y):
        return x * torch.sin(y) + torch.exp(x * y)

    value, tangent = module.jvp(x, y, u, v)
    want_value, want_tangent = torch.func.jvp(f, (x, y), (u, v))
    torch.testing.assert_close(value, want_value, rtol=1e-14, atol=0)
    torch.testing.assert_close(tangent, want_tangent, rtol=1e-13, atol=1e-15)
    value, grads, hv = module.hvp(x, y, u, v)
    gradient = torch.func.grad(lambda x, y: f(x, y).sum(), (0, 1))
    want_grads, want_hv = torch.func.jvp(gradient, (x, y), (u, v))
    torch.testing.assert_close(value, want_value, rtol=1e-14, atol=0)
    torch.testing.assert_close(tuple(grads), want_grads, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(tuple(hv), want_hv, rtol=1e-12, atol=1e-14)
    assert grads._fields == hv._fields == ("x", "y")
    assert torch.autograd.gradcheck(
        module.apply, (x.clone().requires_grad_(), y.clone().requires_grad_())
    )


def test_function_target_refuses_matrix_modes_in_one_line(capsys) -> None:
    status = cli.main(
        ["x*y", "--backend", "torch", "--target", "function", "--mode", "hessian"]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--target function" in err and "hessian" in err


@pytest.mark.parametrize(
    ("target", "backend", "name"),
    [
        ("layer", "numpy", "Cache"),
        ("layer", "numpy", "cache"),
        ("layer", "numpy", "CACHE"),
        ("layer", "numpy", "layer_forward"),
        ("function", "torch", "ctx"),
        ("function", "torch", "Function"),
        ("function", "torch", "apply"),
    ],
)
@pytest.mark.parametrize("where", ["input", "intermediate"])
def test_a_name_the_target_defines_is_refused_in_one_line(
    capsys, target: str, backend: str, name: str, where: str
) -> None:
    source = (
        f"f = {name} * y" if where == "input" else f"{name} = x * y\nf = {name} * x"
    )
    status = cli.main([source, "--backend", backend, "--target", target])
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and f"'{name}'" in err and f"--target {target}" in err


@pytest.mark.parametrize("name", ["Cache", "ctx", "cache", "Function", "apply"])
def test_those_names_work_under_the_flat_target(name: str) -> None:
    module = load_module(generate(f"{name} = x * y\nf = {name} * x"))
    value, grads = module.forward_backward(2.0, 3.0)
    assert float(value) == 12.0 and float(grads.x) == 12.0 and float(grads.y) == 4.0


def test_every_target_reserves_what_every_module_defines() -> None:
    """A target's names are the namer's and refused in programs; the names all
    modules share are refused whatever the target."""
    for target in TARGETS.values():
        names = target.names("layer")
        assert {"INPUTS", "WRT", "SHAPES"} <= names
        if target.name == "flat":
            assert names <= RESERVED


def test_layer_names_follow_the_name_option() -> None:
    with pytest.raises(OptionError, match="'net_backward'"):
        generate(
            "net_backward = x * y\nf = net_backward",
            Options(target="layer", name="net"),
        )
    module = load_module(
        generate(
            "layer_backward = x * y\nf = layer_backward",
            Options(target="layer", name="net"),
        )
    )
    value, cache = module.net_forward(2.0, 3.0)
    assert float(value) == 6.0 and float(module.net_backward(1.0, cache).x) == 3.0


def test_function_target_takes_a_declared_float_as_a_python_number() -> None:
    """``reg: float`` passed as a number, as to PyTorch's own functions: the call
    works, reg gets no gradient, and X and W pass gradcheck and gradgradcheck; passed
    as a tensor, reg's gradient is checked too."""
    source = "X: array[N, D]\nW: array[D, M]\nreg: float\n"
    source += "loss = sum(X @ W) + 0.5 * reg * sum(W * W)"
    module = load_module(generate(source, Options(backend="torch", target="function")))
    gen = torch.Generator().manual_seed(10)
    X = torch.randn(4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    loss = module.apply(X, W, 0.1)
    loss.backward()
    torch.testing.assert_close(W.grad, X.sum(0)[:, None].expand(3, 2) + 0.1 * W)
    torch.testing.assert_close(X.grad, W.sum(1)[None, :].expand(4, 3))

    def with_number(X, W):
        return module.apply(X, W, 0.1)

    assert torch.autograd.gradcheck(with_number, (X, W))
    assert torch.autograd.gradgradcheck(with_number, (X, W))
    reg = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module.apply, (X, W, reg))
    assert torch.autograd.gradgradcheck(module.apply, (X, W, reg))


def test_function_target_takes_a_number_for_a_scalar_programs_input() -> None:
    source = "f = x * y * y + x * x / y"  # no functions: torch.sin takes no number
    module = load_module(generate(source, Options(backend="torch", target="function")))
    x = torch.linspace(-1, 1, 5, dtype=torch.float64, requires_grad=True)

    def with_number(x):
        return module.apply(x, 0.7)

    assert torch.autograd.gradcheck(with_number, (x,))
    assert torch.autograd.gradgradcheck(with_number, (x,))
