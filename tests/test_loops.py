"""Loops (``for t in range(4):``), unrolled into the straight-line module: values and
gradients against PyTorch autograd (float64), SymPy and central differences; the
printed iteration headings and versions; refusals and the size limit."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy
from conftest import EXAMPLES, GENERATED
from oracles import sympy_at

import cli
from codegen.evaluate import load_module
from codegen.generate import Options, generate, generate_with_warnings
from codegen.parse import MAX_TOKENS

torch = pytest.importorskip("torch")

RNN = (EXAMPLES / "rnn_loop.bp").read_text()
SIZES = {"N": 3, "D": 5, "H": 4, "C": 6}


def _module(source: str, **options):
    return load_module(generate(source, Options(**options)))


def _rnn_point(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d, h, c = SIZES["N"], SIZES["D"], SIZES["H"], SIZES["C"]
    return {
        "X": rng.normal(size=(4, n, d)),
        "h": rng.normal(size=(n, h)),
        "Wx": rng.normal(size=(d, h)) * 0.5,
        "Wh": rng.normal(size=(h, h)) * 0.5,
        "b": rng.normal(size=(h,)),
        "Wy": rng.normal(size=(h, c)),
        "y": rng.integers(0, c, size=n),
    }


def _rnn_torch(point: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """The reference: torch.rnn_tanh_cell in a loop, cross-entropy at the end."""
    leaves = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in point.items()
        if k != "y"
    }
    h = leaves["h"]
    zero = torch.zeros(SIZES["H"], dtype=torch.float64)
    for t in range(4):
        h = torch.rnn_tanh_cell(
            leaves["X"][t], h, leaves["Wx"].T, leaves["Wh"].T, leaves["b"], zero
        )
    loss = torch.nn.functional.cross_entropy(h @ leaves["Wy"], torch.tensor(point["y"]))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in leaves.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rnn_loop_agrees_with_torch_rnn_tanh_cell(seed: int) -> None:
    module = load_module((GENERATED / "rnn_loop.py").read_text())
    point = _rnn_point(seed)
    args = [point[name] for name in module.INPUTS]
    want_loss, want_grads = _rnn_torch(point)
    assert module.forward(*args) == pytest.approx(want_loss, rel=1e-13)
    loss, grads = module.forward_backward(*args)
    assert loss == pytest.approx(want_loss, rel=1e-13)
    assert grads._fields == ("X", "h", "Wx", "Wh", "b", "Wy")
    for name in grads._fields:
        got = getattr(grads, name)
        np.testing.assert_allclose(got, want_grads[name], rtol=1e-11, atol=1e-14)


def _headings(text: str, function: str) -> list[str]:
    body = text.split(f"\ndef {function}(", 1)[1].split("\ndef ", 1)[0]
    return re.findall(r"^\s+# (t = \d.*)$", body, flags=re.M)


def test_rnn_module_prints_each_iteration_under_a_heading() -> None:
    text = (GENERATED / "rnn_loop.py").read_text()
    steps = [f"t = {t}" for t in range(4)]
    backward = [f"t = {t} (backward)" for t in (3, 2, 1, 0)]
    assert _headings(text, "forward") == steps
    assert _headings(text, "forward_backward") == steps + backward
    # the versions of the reassigned input h: h is the value passed in
    for version in range(1, 5):
        assert f"    h_{version} = np.tanh(" in text
    assert "scores = h_4 @ Wy" in text
    assert "Reassigned names" in text
    # each iteration reads its own step of X
    for t in range(4):
        assert re.search(rf"= X\[{t}\]  # \(N, D\)", text)


def test_programs_without_loops_print_no_headings() -> None:
    text = generate((EXAMPLES / "two_layer_net.bp").read_text())
    assert "# t = " not in text
    assert "\n\n    " not in text.split("# backward")[1]


NESTED = """
X: array[5, N]
w: array[N]
s = 0
for t in range(1, 3):
    u = X[t + 1] * w
    for k in range(2):
        s = s + sum(u * X[2 * k]) * (k + 1) + t
    s = s * sum(X[t - 1])
"""


def _nested_torch(X, w):
    s = 0
    for t in range(1, 3):
        u = X[t + 1] * w
        for k in range(2):
            s = s + torch.sum(u * X[2 * k]) * (k + 1) + t
        s = s * torch.sum(X[t - 1])
    return s


def test_nested_loops_offsets_and_range_bounds_against_torch() -> None:
    module = _module(NESTED)
    rng = np.random.default_rng(5)
    X, w = rng.normal(size=(5, 3)), rng.normal(size=3)
    Xt = torch.tensor(X, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    want = _nested_torch(Xt, wt)
    want.backward()
    value, grads = module.forward_backward(X, w)
    assert value == pytest.approx(want.item(), rel=1e-13)
    np.testing.assert_allclose(grads.X, Xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grads.w, wt.grad.numpy(), rtol=1e-12)


def test_nested_loops_headings_name_both_variables() -> None:
    text = generate(NESTED)
    forward = text.split("\ndef forward(", 1)[1].split("\ndef ", 1)[0]
    assert re.findall(r"# (t = .*)", forward) == [
        "t = 1",
        "t = 1, k = 0",
        "t = 1, k = 1",
        "t = 1",
        "t = 2",
        "t = 2, k = 0",
        "t = 2, k = 1",
        "t = 2",
    ]
    # t + 1, 2 * k and t - 1 are folded into literal indices
    for index in ("X[2]", "X[3]", "X[0]", "X[1]"):
        assert index in forward


def test_a_negative_offset_indexes_from_the_end_as_in_python() -> None:
    source = "X: array[3]\ns = 0\nfor t in range(3):\n    s = s + X[t - 1] * (t + 1)"
    module = _module(source)
    X = np.array([2.0, 3.0, 5.0])
    value, grads = module.forward_backward(X)
    want = sum(X[t - 1] * (t + 1) for t in range(3))
    assert value == want
    np.testing.assert_array_equal(grads.X, [2.0, 3.0, 1.0])


SCALAR = """
y = x
for t in range(3):
    y = sin(y) * z + t * x
"""


def test_scalar_loop_with_the_math_backend_against_sympy() -> None:
    module = _module(SCALAR, backend="math")
    x, z = sympy.symbols("x z")
    y = x
    for t in range(3):
        y = sympy.sin(y) * z + t * x
    point = {x: 0.7, z: -1.3}
    value, grads = module.forward_backward(0.7, -1.3)
    assert value == pytest.approx(sympy_at(y, point), rel=1e-14)
    assert grads.x == pytest.approx(sympy_at(sympy.diff(y, x), point), rel=1e-13)
    assert grads.z == pytest.approx(sympy_at(sympy.diff(y, z), point), rel=1e-13)


def test_grad_and_jvp_on_a_loop_against_central_differences() -> None:
    module = _module(SCALAR, backend="math", mode=("grad", "jvp"))
    x, z, dx, dz, eps = 0.4, 0.9, 0.3, -0.7, 1e-6
    value, tangent = module.jvp(x, z, dx, dz)
    assert value == module.forward(x, z)
    plus = module.forward(x + eps * dx, z + eps * dz)
    minus = module.forward(x - eps * dx, z - eps * dz)
    assert tangent == pytest.approx((plus - minus) / (2 * eps), rel=1e-8)
    _, grads = module.forward_backward(x, z)
    assert tangent == pytest.approx(grads.x * dx + grads.z * dz, rel=1e-13)
    text = generate(SCALAR, Options(backend="math", mode=("grad", "jvp")))
    assert _headings(text, "jvp") == ["t = 0", "t = 1", "t = 2"]


def test_hvp_of_a_loop_keeps_each_iteration_in_one_paragraph() -> None:
    text = generate(SCALAR, Options(backend="math", mode=("grad", "hvp")))
    forward = [f"t = {t}" for t in range(3)]
    backward = [f"t = {t} (backward)" for t in (2, 1, 0)]
    assert _headings(text, "hvp") == forward + backward


def test_the_loop_variable_as_a_value_is_a_constant() -> None:
    text = generate("x: float\nfor t in range(2, 4):\n    x = x * t")
    assert "x_1 = x * 2" in text and "x_2 = x_1 * 3" in text
    module = load_module(text)
    assert module.forward_backward(1.5) == (9.0, module.Grads(6.0))


def test_an_unstable_spelling_in_a_loop_is_reported_once() -> None:
    source = "s = x\nfor t in range(3):\n    s = log(1 + exp(s * x))\n"
    _, warnings = generate_with_warnings(source)
    assert len(warnings) == 1 and "<expr>:3:9:" in warnings[0]
    text = generate(source, Options(stable=True))
    assert text.count("as softplus(s * x)") == 1


LSTM = """
X: array[3, N, D]
h: array[N, H]
c: array[N, H]
Wi: array[D, H]
Wf: array[D, H]
Wg: array[D, H]
Wo: array[D, H]
Ui: array[H, H]
Uf: array[H, H]
Ug: array[H, H]
Uo: array[H, H]
for t in range(3):
    i = sigmoid(X[t] @ Wi + h @ Ui)
    f = sigmoid(X[t] @ Wf + h @ Uf)
    g = tanh(X[t] @ Wg + h @ Ug)
    o = sigmoid(X[t] @ Wo + h @ Uo)
    c = f * c + i * g
    h = o * tanh(c)
loss = sum(h * h) + sum(c)
"""


def test_an_lstm_loop_agrees_with_torch_lstm_cell() -> None:
    module = _module(LSTM)
    rng = np.random.default_rng(7)
    n, d, hidden = 2, 3, 4
    sizes = {"N": n, "D": d, "H": hidden}
    point = {
        name: rng.normal(size=tuple(sizes.get(s, s) for s in shape)) * 0.7
        for name, shape in module.SHAPES.items()
    }
    loss, grads = module.forward_backward(*(point[k] for k in module.INPUTS))
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in point.items()}
    w_ih = torch.cat([leaves[k] for k in ("Wi", "Wf", "Wg", "Wo")], 1).T
    w_hh = torch.cat([leaves[k] for k in ("Ui", "Uf", "Ug", "Uo")], 1).T
    h, c = leaves["h"], leaves["c"]
    for t in range(3):
        h, c = torch.lstm_cell(leaves["X"][t], (h, c), w_ih, w_hh)
    want = torch.sum(h * h) + torch.sum(c)
    want.backward()
    assert loss == pytest.approx(want.item(), rel=1e-13)
    for name in grads._fields:
        np.testing.assert_allclose(
            getattr(grads, name), leaves[name].grad.numpy(), rtol=1e-11, atol=1e-14
        )


def test_same_bytes_twice() -> None:
    for source in (RNN, NESTED, SCALAR):
        assert generate(source) == generate(source)


BAD = [
    ("x: float\nwhile x > 0:\n    x = x - 1\n", "2:1", "'while'"),
    ("X: array[3]\ns = 0\nfor v in X:\n    s = s + v\n", "3:10", "range()"),
    ("s = 0\nfor t in range(n):\n    s = s + t\n", "2:16", "integer literals"),
    ("s = x\nfor t in range(3):\n    s = s * x\n    break\n", "4:5", "'break'"),
    ("s = x\nfor t in range(3):\n    s = s * x\nelse:\n    s = x\n", "5:5", "'else'"),
    ("s = x\nfor t in range(3):\n    t = s * x\n", "3:5", "cannot be assigned"),
    ("s = x\nfor t, u in range(3):\n    s = s * x\n", "2:5", "one plain name"),
    ("s = x\nfor t in range(3):\n    s = s * x\ny = s * t\n", "4:9", "only inside"),
    ("s = x\nfor t in range(3, 1):\n    s = s * x\n", "2:10", "no iterations"),
    (
        "s = x\nfor t in range(2):\n    for t in range(2):\n        s = s * x\n",
        "3:9",
        "enclosing",
    ),
    ("s = x\nfor t in range(2):\n    z: float\n    s = s * z\n", "3:5", "before"),
    (
        "X: array[3]\ns = 0\nfor t in range(3):\n    s = s + X[t + 1]\n",
        "4:13",
        "(at t = 2)",
    ),
]


#: the refusals of an unsupported form, which name the supported one
NAMES_THE_FORM = {b[2] for b in BAD[:7]}


@pytest.mark.parametrize("source, place, what", BAD, ids=[b[2] for b in BAD])
def test_bad_loops_are_refused_in_one_line(
    source: str, place: str, what: str, tmp_path, capsys
) -> None:
    path = tmp_path / "prog.bp"
    path.write_text(source)
    status = cli.main(["-f", str(path)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "Traceback" not in err
    first = err.splitlines()[0]
    assert f"prog.bp:{place}:" in first, first
    assert what in first, first
    if what in NAMES_THE_FORM:
        assert "for t in range(4):" in first, first


@pytest.mark.parametrize(
    "loops",
    [
        "for t in range(1000000):\n",
        "for t in range(2000):\n    for s in range(1000):\n",
    ],
)
def test_a_loop_past_the_input_limit_is_refused_in_one_line(loops: str, capsys) -> None:
    indent = "    " * loops.count("for")
    source = f"h = x\n{loops}{indent}h = h * x + 1\n"
    status = cli.main([source])
    _, err = capsys.readouterr()
    assert status == 2
    assert err.count("\n") == 1, err
    assert f"more than {MAX_TOKENS:,} tokens" in err
    assert ":2:1:" in err


def test_a_long_loop_under_the_limit_generates() -> None:
    # 1,000 iterations of 7 tokens: counted, under the limit
    source = "h = x\nfor t in range(1000):\n    h = h * x + 1\n"
    module = _module(source, backend="math")
    value, grads = module.forward_backward(0.5)
    want = 0.5
    for _ in range(1000):
        want = want * 0.5 + 1
    assert value == pytest.approx(want, rel=1e-14)
    assert math.isfinite(grads.x)
