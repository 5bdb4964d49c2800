"""``--trace``: every name's value and gradient at a point, in forward order.

The oracle is SymPy: the gradient of a value ``v`` is the derivative of the output
with respect to ``v`` when the statements after ``v`` are composed (and the earlier
names held at their values), written here by hand, independently of the rule tables.
The lecture's tables of §1 and §3 are checked number for number."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import sympy
from conftest import BACKENDS, EXAMPLES, REPO
from oracles import assert_fd_close, fd_vjp, sympy_at, sympy_close

import cli
from codegen.errors import OptionError
from codegen.evaluate import evaluate_at
from codegen.options import Options
from codegen.trace import gradient_names, number, trace_at, trace_table

PREFIX = "backpropgen: error: "


def _oracle(
    stmts: list[tuple[str, str]], output: str, point: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """name -> (value, d output / d name) from SymPy, for the inputs and statements."""
    exprs = [(sympy.Symbol(n), sympy.sympify(rhs)) for n, rhs in stmts]
    values: dict[sympy.Symbol, float] = {sympy.Symbol(n): v for n, v in point.items()}
    for symbol, rhs in exprs:
        values[symbol] = sympy_at(rhs, values)
    result: dict[str, tuple[float, float]] = {}
    names = [*point, *(n for n, _ in stmts)]
    for name in names:
        start = next((i + 1 for i, (n, _) in enumerate(stmts) if n == name), 0)
        composed: sympy.Expr = sympy.Symbol(output)
        for symbol, rhs in reversed(exprs[start:]):
            composed = composed.subs(symbol, rhs)
        derivative = sympy.diff(composed, sympy.Symbol(name))
        result[name] = (values[sympy.Symbol(name)], sympy_at(derivative, values))
    return result


SIGMOID_CHAIN = [
    ("a", "x + 1"),
    ("b", "a * 2"),
    ("c", "-b"),
    ("d", "c + 1"),
    ("e", "d * 2"),
    ("f", "1 / (1 + exp(-e))"),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lecture_section_1(backend: str) -> None:
    """§1: q = -20, f = -22; df/dx = 1, df/dy = -4, df/dz = 5, df/dq = 1."""
    trace = trace_at(
        "q = y*z; f = x + q",
        Options(backend=backend, inputs=("x", "y", "z")),
        {"x": -2.0, "y": 5.0, "z": -4.0},
        "<expr>",
    )
    got = [(r.name, r.value, r.grads) for r in trace.rows]
    assert got == [
        ("x", -2.0, (1.0,)),
        ("y", 5.0, (-4.0,)),
        ("z", -4.0, (5.0,)),
        ("q", -20.0, (1.0,)),
        ("f", -22.0, (1.0,)),
    ]
    assert [r.statement for r in trace.rows] == ["", "", "", "q = y * z", "f = x + q"]
    assert trace_table(trace).splitlines() == [
        "name  statement  value  gradient",
        "x     (input)    -2     1",
        "y     (input)    5      -4",
        "z     (input)    -4     5",
        "q     q = y * z  -20    1",
        "f     f = x + q  -22    1",
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lecture_section_3(backend: str) -> None:
    """§3: the sigmoid chain at x = 3: values 4, 8, -8, -7, -14, f = sigmoid(-14),
    gradients against SymPy; df/dx = -4 f (1 - f)."""
    source = (EXAMPLES / "sigmoid_chain.bp").read_text()
    trace = trace_at(source, Options(backend=backend), {"x": 3.0}, "<file>")
    want = _oracle(SIGMOID_CHAIN, "f", {"x": 3.0})
    assert [r.name for r in trace.rows] == list(want)
    assert [r.value for r in trace.rows][:6] == [3.0, 4.0, 8.0, -8.0, -7.0, -14.0]
    for row in trace.rows:
        value, grad = want[row.name]
        assert sympy_close(row.value, value), row
        (got,) = row.grads
        assert got is not None and sympy_close(got, grad), (row, grad)
    f = 1 / (1 + math.exp(14))
    assert sympy_close(trace.rows[0].grads[0] or 0.0, -4 * f * (1 - f))
    lines = trace_table(trace).splitlines()
    assert lines[2].split() == ["a", "a", "=", "x", "+", "1", "4", number(want["a"][1])]


def test_fan_out_and_a_temporary() -> None:
    """The copy gate: x used twice gets the sum; the unnamed y*x is the code's t1."""
    trace = trace_at("f = x*y + x", Options(), {"x": 2.0, "y": 3.0}, "<expr>")
    names = [r.name for r in trace.rows]
    assert names == ["x", "y", "t1", "f"]
    want = _oracle([("t1", "x*y"), ("f", "t1 + x")], "f", {"x": 2.0, "y": 3.0})
    for row in trace.rows:
        assert (row.value, row.grads[0]) == want[row.name]


def test_gradients_agree_with_at() -> None:
    """The inputs' gradients and the output's value are those --at prints (the
    generated module's), here with a user name that makes the namer fall back."""
    source = "dx = x * 2; g = sin(dx) * y + exp(x / y)"
    point = {"x": 0.7, "y": -1.3}
    trace = trace_at(source, Options(), point, "<expr>")
    at = dict(evaluate_at(source, Options(), point, "<expr>"))
    rows = {r.name: r for r in trace.rows}
    assert rows["g"].value == at["g"]
    assert rows["x"].grads == (at["dg/dx"],)
    assert rows["y"].grads == (at["dg/dy"],)
    assert gradient_names(trace.compiled)["x"] != "dx"  # dx is the user's
    want = _oracle(
        [("dx", "x*2"), ("t1", "sin(dx)"), ("t2", "t1*y"), ("t3", "x/y")]
        + [("t4", "exp(t3)"), ("g", "t2 + t4")],
        "g",
        point,
    )
    assert set(rows) == set(want)
    for name, (value, grad) in want.items():
        assert sympy_close(rows[name].value, value)
        assert sympy_close(rows[name].grads[0] or 0.0, grad), name


def test_values_without_gradient_and_several_outputs() -> None:
    """--wrt x: a value only y reaches has no gradient ('-'); several outputs get a
    column each (the gradient of each output, the others' upstream 0)."""
    trace = trace_at(
        "a = y * y; u = x * a; v = x + y\nu, v",
        Options(wrt=("x",)),
        {"x": 2.0, "y": 3.0},
        "<expr>",
    )
    rows = {r.name: r for r in trace.rows}
    assert rows["a"].grads == (None, None)
    assert rows["x"].grads == (9.0, 1.0)
    assert rows["u"].grads == (1.0, 0.0)
    assert rows["v"].grads == (0.0, 1.0)
    head, *body = trace_table(trace).splitlines()
    assert head.split() == ["name", "statement", "value", "gradient", "of", "u"] + [
        "gradient",
        "of",
        "v",
    ]
    assert body[2].split()[-2:] == ["-", "-"]


def test_cli_prints_the_trace(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["x + y*z", "--at", "x=-2", "y=5", "z=-4", "--trace"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].split() == ["f", "f", "=", "x", "+", "t1", "-22", "1"]


@pytest.mark.parametrize(
    "argv, place, what",
    [
        (["x*y", "--trace"], "--trace", "--at"),
        (
            ["-f", str(EXAMPLES / "two_layer_net.bp"), "--trace", "--at", "X=1"],
            "--at",
            "no value for input 'W1' (or --random SEED)",
        ),
        (
            ["-f", str(EXAMPLES / "two_layer_net.bp"), "--trace", "--at", "X=1"]
            + ["N=4", "D=3", "H=2", "C=3", "--random", "0"],
            "--at",
            "'X' is an array (N, D), not a number",
        ),
        (
            ["-f", str(EXAMPLES / "two_layer_net.bp"), "--trace", "--at", "N=4"]
            + ["--random", "0"],
            "--random",
            "no length for D, the size of 'X': give it (--at D=4)",
        ),
        (
            ["-f", str(EXAMPLES / "two_layer_net.bp"), "--trace", "--at", "N=2.5"]
            + ["--random", "0"],
            "--at N",
            "a size is a whole number above 0, not 2.5",
        ),
        (["x*y", "--trace", "--random", "-1"], "--random", "'-1' is not a seed"),
        (["x*y", "--trace", "--at", "x=1"], "--at", "'y'"),
        (["x*y", "--trace", "--at", "x=1", "y=2", "-o", "m.py"], "", "-o"),
    ],
    ids=[
        "no-at",
        "arrays",
        "scalar-for-array",
        "no-size",
        "fractional-size",
        "bad-seed",
        "missing-value",
        "with-o",
    ],
)
def test_bad_trace(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    place: str,
    what: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(PREFIX + place) and what in line, line
    assert list(tmp_path.iterdir()) == []


def test_readme_trace_block_is_the_real_output(
    capsys: pytest.CaptureFixture[str],
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (REPO / "README.md").read_text()
    start = text.index('    $ backpropgen "q = y*z; f = x + q" --inputs x,y,z --at')
    block = text[start:].split("\n\n", 1)[0].splitlines()
    argv = shlex.split(block[0].strip()[len("$ backpropgen ") :])
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [ln[4:] for ln in block[1:]]


def test_pre_commit_hook_runs_check() -> None:
    """.pre-commit-hooks.yaml offers backpropgen-check, running backpropgen --check on
    the whole manifest (no file names passed), and the README shows it."""
    lines = (REPO / ".pre-commit-hooks.yaml").read_text().splitlines()
    assert "- id: backpropgen-check" in lines
    assert "  entry: backpropgen --check" in lines
    assert "  pass_filenames: false" in lines
    assert "id: backpropgen-check" in (REPO / "README.md").read_text()


def test_torch_backend_and_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """The trace runs the torch backend's statements on float64 tensors, and --at
    too; the trace of a layer is its flat program's; --at on a target without
    forward_backward is one line."""
    pytest.importorskip("torch")
    for extra in (["--backend", "torch"], ["--target", "layer"]):
        argv = ["q = y*z; f = x + q", "--inputs", "x,y,z", "--at", "x=-2", "y=5"]
        argv += ["z=-4", *extra]
        assert cli.main([*argv, "--trace"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [ln.split()[-2:] for ln in lines[1:]] == [
            ["-2", "1"],
            ["5", "-4"],
            ["-4", "5"],
            ["-20", "1"],
            ["-22", "1"],
        ]
        if extra[0] == "--backend":
            assert cli.main(argv) == 0
            assert capsys.readouterr().out.split()[:2] == ["f", "-22.0"]
    for extra in (
        ["--target", "layer"],
        ["--backend", "torch", "--target", "function"],
    ):
        assert cli.main(["x*y", "--at", "x=1", "y=2", *extra]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith(PREFIX + "--at")


NET = (EXAMPLES / "two_layer_net.bp").read_text()


def _net_point(seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "X": rng.standard_normal((4, 3)),
        "W1": rng.standard_normal((3, 5)),
        "b1": rng.standard_normal(5),
        "W2": rng.standard_normal((5, 3)),
        "b2": rng.standard_normal(3),
        "y": np.array([0, 2, 1, 2]),
    }


def test_two_layer_net_trace_with_arrays() -> None:
    """The net traced at NumPy arrays: every row's value has its declared shape, the
    inputs' gradients are central differences of the loss (written here in NumPy),
    --at's table agrees, and the table shows shapes and summaries."""
    point = _net_point(7)
    trace = trace_at(NET, Options(), point, "<net>")
    rows = {row.name: row for row in trace.rows}
    assert [r.name for r in trace.rows][:6] == ["X", "W1", "b1", "W2", "b2", "y"]
    assert rows["hidden"].value.shape == (4, 5) and rows["scores"].value.shape == (4, 3)
    assert rows["y"].grads == (None,)

    def loss(p: dict[str, object]) -> float:
        hidden = np.maximum(0, p["X"] @ p["W1"] + p["b1"])
        scores = hidden @ p["W2"] + p["b2"]
        top = scores.max(axis=1, keepdims=True)
        lse = np.log(np.exp(scores - top).sum(axis=1)) + top[:, 0]
        return float(np.mean(lse - scores[np.arange(4), p["y"]]))

    assert sympy_close(rows["loss"].value, loss(point))
    table = dict(evaluate_at(NET, Options(), point, "<net>"))
    for name in ("X", "W1", "b1", "W2", "b2"):
        (grad,) = rows[name].grads
        assert_fd_close(grad, fd_vjp(loss, point, 1.0, name), loss(point), name)
        np.testing.assert_array_equal(table[f"dloss/d{name}"], grad)
    lines = trace_table(trace).splitlines()
    assert lines[1].split()[:5] == ["X", "(input)", "(4,", "3)", "mean"]
    assert number(rows["b1"].value) == (
        f"(5,) mean {point['b1'].mean():.3g} min {point['b1'].min():.3g} "
        f"max {point['b1'].max():.3g}"
    )


def test_random_point_is_seeded_and_shaped(capsys: pytest.CaptureFixture[str]) -> None:
    """--random SEED with the sizes in --at: the same seed gives the same table (the
    same bytes), another seed another; integer labels are indices below the
    smallest size; given values are kept."""
    net = str(EXAMPLES / "two_layer_net.bp")
    argv = ["-f", net, "--at", "N=4", "D=3", "H=5", "C=3", "--trace", "--random"]
    outs = []
    for seed in ("0", "0", "1"):
        assert cli.main([*argv, seed]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] != outs[2]
    assert "(4, 3) mean" in outs[0] and "loss    loss = t13.mean()" in outs[0]
    trace = trace_at(NET, Options(), {"N": 4, "D": 3, "H": 5, "C": 3}, "<n>", seed=0)
    y = next(r.value for r in trace.rows if r.name == "y")
    assert y.shape == (4,) and y.min() >= 0 and y.max() < 3
    kept = trace_at("x*y", Options(), {"x": 2.0}, "<e>", seed=5)
    assert kept.rows[0].value == 2.0 and kept.rows[1].value != 2.0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"W1": np.zeros((2, 5))}, "'W1' has length 2 on axis 0, where D is 3"),
        ({"b1": 1.0}, "'b1' is an array (H,), not a number"),
        ({"N": 5}, "'X' has length 4 on axis 0, where N is 5"),
    ],
    ids=["wrong-length", "number-for-array", "size-disagrees"],
)
def test_bad_array_point(change: dict[str, object], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        trace_at(NET, Options(), {**_net_point(1), **change}, "<net>")
    assert caught.value.one_line() == f"--at: {message}"


def test_readme_random_block_is_the_real_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (REPO / "README.md").read_text()
    start = text.index("    $ backpropgen -f examples/two_layer_net.bp --at N=4")
    block = text[start:].split("\n\n", 1)[0].splitlines()
    argv = shlex.split(block[0].strip()[len("$ backpropgen ") :])
    argv[1] = str(REPO / argv[1])
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [ln[4:] for ln in block[1:]]
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"
