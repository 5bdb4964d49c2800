"""None in subscripts (a new axis), var/std (population, ddof 0), concatenate and
stack: values and every gradient against PyTorch autograd in float64, central
differences and the dot-product test, forward mode, the torch backend against numpy,
and bad input as one line with exit status 2."""

from __future__ import annotations

import numpy as np
import pytest
from array_helpers import bindings, build, check_program, seed_of

import cli
from codegen.evaluate import load_module
from codegen.generate import Options, generate

torch = pytest.importorskip("torch")

LAYER_NORM = """\
x: array[N, D]
g: array[D]
b: array[D]
xc = x - mean(x, axis=-1, keepdims=True)
y = xc / sqrt(var(x, axis=-1, keepdims=True) + 1e-5) * g + b
"""

PAIRWISE = """\
X: array[N, D]
Y: array[M, D]
diff = X[:, None, :] - Y[None, :, :]
d2 = sum(diff * diff, axis=-1)
out = exp(-d2) + X[None][0, :, 0][:, None] * Y[0:1, None, 0][None, :, 0]
"""

JOINS = """\
a: array[N, 3]
b: array[N, 4]
c: array[N, 3]
u = concatenate([a, b, c], axis=1)
v = concatenate([tanh(a), c * 2.0], axis=0)
s0 = stack([a, c], axis=0)
s2 = stack([a, sin(c), a * c], axis=-1)
out = sum(u * u, axis=1) + sum(v * v) + sum(s0[1] * s2[:, :, 2], axis=1)
"""

SYMBOLIC = """\
h: array[N, H]
x: array[N, D]
Y: array[M, H]
z = concatenate([h, x], axis=1)
r = concatenate([tanh(h), Y, h[1:]], axis=0)
out = sum(r * r) + sum(sin(z))
"""

STATS = """\
x: array[N, D]
out = sum(var(x) * std(x, axis=0) * std(x, axis=(0, 1), keepdims=True)) + sum(var(x, axis=1))
"""


def _torch_layer_norm(x, g, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), g, b, eps=1e-5)


def _torch_pairwise(X, Y):
    diff = X[:, None, :] - Y[None, :, :]
    d2 = (diff * diff).sum(dim=-1)
    return torch.exp(-d2) + X[None][0, :, 0][:, None] * Y[0:1, None, 0][None, :, 0]


def _torch_joins(a, b, c):
    u = torch.cat([a, b, c], dim=1)
    v = torch.cat([torch.tanh(a), c * 2.0], dim=0)
    s0 = torch.stack([a, c], dim=0)
    s2 = torch.stack([a, torch.sin(c), a * c], dim=-1)
    return (u * u).sum(1) + (v * v).sum() + (s0[1] * s2[:, :, 2]).sum(1)


def _torch_stats(x):
    var = torch.var(x, correction=0)
    std0 = torch.std(x, dim=0, correction=0)
    std01 = torch.std(x, dim=(0, 1), keepdim=True, correction=0)
    return (var * std0 * std01).sum() + torch.var(x, dim=1, correction=0).sum()


CASES = {
    "layer_norm": (LAYER_NORM, _torch_layer_norm, {"N": 3, "D": 5}),
    "pairwise": (PAIRWISE, _torch_pairwise, {"N": 4, "M": 3, "D": 2}),
    "joins": (JOINS, _torch_joins, {"N": 3}),
    "stats": (STATS, _torch_stats, {"N": 4, "D": 3}),
}


def _inputs(source: str, bind: dict[str, int], rng) -> list[np.ndarray]:
    built = build(source)
    return [
        rng.standard_normal(
            tuple(d if isinstance(d, int) else bind[d] for d in built.types[n].shape)
        )
        for n in built.inputs
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_every_gradient_agree_with_torch_autograd(name: str) -> None:
    source, reference, bind = CASES[name]
    built = build(source)
    rng = np.random.default_rng(seed_of("torch", name))
    args = _inputs(source, bind, rng)
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    want = reference(*tensors)
    c = rng.standard_normal(tuple(want.shape))
    want.backward(torch.tensor(c))
    value, grads = built.module.forward_backward(*args, c)
    np.testing.assert_allclose(value, want.detach().numpy(), rtol=1e-13, atol=1e-13)
    assert grads._fields == built.inputs
    for n, got, t in zip(built.inputs, grads, tensors, strict=True):
        np.testing.assert_allclose(
            got, t.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=n
        )


@pytest.mark.parametrize("source", [LAYER_NORM, PAIRWISE, JOINS, SYMBOLIC, STATS])
def test_central_differences_and_dot_product(source: str) -> None:
    built = build(source)
    assert check_program(built, bindings(built.symbols())) >= 2


def test_printed_as_written() -> None:
    text = generate(PAIRWISE, Options())
    assert "X[:, None, :]" in text and "Y[None, :, :]" in text
    assert "X[None]" in text
    assert "Y[0:1, None, 0]" in text
    joins = generate(JOINS, Options())
    assert "np.concatenate([a, b, c], axis=1)" in joins
    assert "np.stack([a, c], axis=0)" in joins
    assert "np.stack([a, t" in joins and "axis=2)" in joins  # axis=-1, normalised
    # the backward slices the gradient apart
    for part in ("du[:, :3]", "du[:, 3:7]", "du[:, 7:]", "ds0[1]", "ds2[:, :, 2]"):
        assert part in joins, part
    torch_text = generate(JOINS, Options(backend="torch"))
    assert "torch.cat([a, b, c], dim=1)" in torch_text
    assert "torch.stack([a, c], dim=0)" in torch_text


def test_symbolic_sizes_add_up_and_bounds_read_shapes() -> None:
    """Joined sizes are sums in the one notation of sizes (``D + H`` however the
    parts are ordered; ``N + M + N - 1`` is ``M + 2*N - 1``)."""
    text = generate(SYMBOLIC, Options())
    assert "# (N, D + H)" in text
    assert "# (M + 2*N - 1, H)" in text
    assert "dz[:, : h.shape[1]]" in text
    assert "dz[:, h.shape[1] :]" in text


def test_std_gradient_is_zero_at_zero_variance_as_torch() -> None:
    source = "x: array[N]\ny = std(x)\n"
    module = build(source).module
    x = np.full(4, 2.5)
    value, (dx,) = module.forward_backward(x)
    t = torch.tensor(x, requires_grad=True)
    torch.std(t, correction=0).backward()
    assert value == 0.0
    np.testing.assert_array_equal(dx, t.grad.numpy())
    np.testing.assert_array_equal(dx, np.zeros(4))


def test_var_is_the_population_variance() -> None:
    module = build("x: array[N]\ny = var(x)\n").module
    x = np.array([1.0, 2.0, 4.0, 7.0])
    assert module.forward(x) == pytest.approx(np.var(x))
    assert module.forward(x) != pytest.approx(np.var(x, ddof=1))


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_backend_equals_numpy(name: str) -> None:
    source, _, bind = CASES[name]
    built = build(source)
    module = load_module(generate(source, Options(backend="torch")), f"t_{name}")
    rng = np.random.default_rng(seed_of("backend", name))
    args = _inputs(source, bind, rng)
    c = np.ones(np.shape(built.module.forward(*args)))
    value, grads = built.module.forward_backward(*args, c)
    t_value, t_grads = module.forward_backward(
        *(torch.tensor(a) for a in args), torch.tensor(c)
    )
    np.testing.assert_allclose(t_value.numpy(), value, rtol=1e-13, atol=1e-13)
    for got, want in zip(t_grads, grads, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("source", [LAYER_NORM, PAIRWISE, JOINS, SYMBOLIC])
def test_forward_mode_through_the_cli(
    source: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.bp"
    path.write_text(source)
    status = cli.main(["-f", str(path), "--mode", "grad,jvp", "--verify"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "jvp" in out and "PASS" in out and "FAIL" not in out


BAD = [
    ("x: array[N]\ny = x + None\n", "2:9", "None is allowed only in a subscript"),
    ("x: array[N]\ny = exp(None)\n", "2:9", "None is allowed only in a subscript"),
    ("x: array[N]\ni: int\ny = x[None, i]\n", "3:5", "None (a new axis) goes with"),
    ("x: array[N]\ny = sum([x, x])\n", "2:9", "a list [a, b] is only the first"),
    ("x: array[N]\ny = x + [x]\n", "2:9", "unsupported syntax: list"),
    ("x: array[N]\ny = concatenate(x)\n", "2:17", "takes a list of arrays"),
    ("x: array[N]\ny = concatenate([])\n", "2:17", "takes a list of arrays"),
    ("x: array[N]\ny = stack([x, 2.0])\n", "2:15", "'2.0' is a scalar"),
    (
        "a: array[N, 3]\nb: array[N, 4]\ny = concatenate([a, b], axis=0)\n",
        "3:5",
        "equal sizes on the other axes, got shapes (N, 3), (N, 4)",
    ),
    (
        "a: array[N, 3]\nb: array[M, 3]\ny = stack([a, b])\n",
        "3:5",
        "stack() needs equal shapes, got shapes (N, 3), (M, 3)",
    ),
    ("a: array[N]\ny = concatenate([a, a], axis=1)\n", "2:5", "out of range"),
    ("a: array[N]\ny = stack([a, a], axis=None)\n", "2:5", "must be an int"),
    ("a: array[N]\ny = a[None, None, 0, 1]\n", "2:5", "too many indices (2)"),
]


@pytest.mark.parametrize(("source", "place", "message"), BAD)
def test_bad_input_is_one_line_with_exit_2(
    source: str, place: str, message: str, tmp_path, capsys
) -> None:
    path = tmp_path / "bad.bp"
    path.write_text(source)
    status = cli.main(["-f", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"bad.bp:{place}:" in lines[0], lines[0]
    assert message in lines[0], lines[0]


def test_var_and_std_remain_free_as_value_names() -> None:
    source = "x: array[N]\nvar = mean(x * x)\nstd = sqrt(var)\ny = std + var(x)\n"
    module = build(source).module
    x = np.array([1.0, 2.0, 4.0])
    assert module.forward(x) == pytest.approx(np.sqrt(np.mean(x * x)) + np.var(x))
