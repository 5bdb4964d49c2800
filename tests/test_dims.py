"""Sizes that are expressions of dimension names (``4*H``, ``H - 2``, ``B*T``,
``H//2``): declarations, slices with such bounds, reshapes, the module's ``SHAPES``,
``--verify`` and ``--at``; the LSTM step checked against ``torch.lstm_cell``."""

from __future__ import annotations

import ast
from importlib import import_module

import numpy as np
import pytest
import torch
from conftest import GENERATED, REPO

import cli
from codegen.dims import dim_text, floordiv, from_ast, minus, plus, symbol, times
from codegen.errors import OptionError
from codegen.evaluate import check_point, load_module, random_point
from codegen.generate import Options, compile_source, generate
from codegen.verify_spec import bindings, size_of

LSTM = (REPO / "examples" / "lstm_step.bp").read_text()


def _size(text: str) -> object:
    return from_ast(ast.parse(text, mode="eval").body)


# --- the representation -------------------------------------------------------------


def test_equal_sizes_are_equal_however_written() -> None:
    assert _size("2*H + 2*H") == _size("4*H")
    assert _size("H - 2 + 2") == "H"
    assert _size("2*(H + 1)") == _size("2*H + 2")
    assert _size("B*T") == _size("T*B")
    assert _size("(4*H)//2") == _size("2*H")
    assert _size("3 * 4") == 12
    assert _size("H - H") == 0
    assert _size("H - 1") != _size("H - 2")


def test_sizes_print_as_python() -> None:
    assert dim_text(_size("2*H + 2*H")) == "4*H"
    assert dim_text(_size("H - 2")) == "H - 2"
    assert dim_text(_size("H//2")) == "H//2"
    assert dim_text(_size("(H + 1)//2")) == "(H + 1)//2"
    assert dim_text(_size("16*F")) == "16*F"
    assert dim_text(_size("B*T")) == "B*T"
    for text in ("4*H", "H - 2", "H//2", "(H + 1)//2 - 1", "B*T + 3"):
        # the text evaluates, as Python would, to the size at every binding tried
        for h in range(1, 9):
            binding = {"H": h, "B": h + 1, "T": 3}
            want = size_of(text, binding)
            got = size_of(dim_text(_size(text)), binding)
            assert got == want, (text, h)


def test_arithmetic_helpers_keep_ints_and_names() -> None:
    assert plus("N", 0) == "N"
    assert minus("N", "N") == 0
    assert times(2, "H") == 2 * symbol("H")
    assert floordiv(7, 2) == 3
    assert floordiv(times(4, "H"), 2) == 2 * symbol("H")


# --- the LSTM step against torch.lstm_cell ------------------------------------------


def test_lstm_module_matches_torch_lstm_cell() -> None:
    module = import_module("generated.lstm_step")
    assert module.SHAPES["Wx"] == ("D", "4*H")
    assert module.SHAPES["b"] == ("4*H",)
    rng = np.random.default_rng(18)
    n, d, h = 3, 4, 5
    point = {
        "x": rng.standard_normal((n, d)),
        "h": rng.standard_normal((n, h)),
        "c": rng.standard_normal((n, h)),
        "Wx": rng.standard_normal((d, 4 * h)),
        "Wh": rng.standard_normal((h, 4 * h)),
        "b": rng.standard_normal(4 * h),
    }
    r, s = rng.standard_normal((n, h)), rng.standard_normal((n, h))
    (h_next, c_next), grads = module.forward_backward(*point.values(), r, s)

    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in point.items()}
    hy, cy = torch.lstm_cell(
        leaves["x"],
        (leaves["h"], leaves["c"]),
        leaves["Wx"].T,
        leaves["Wh"].T,
        leaves["b"],
        torch.zeros(4 * h, dtype=torch.float64),
    )
    loss = (hy * torch.tensor(r)).sum() + (cy * torch.tensor(s)).sum()
    loss.backward()
    np.testing.assert_allclose(h_next, hy.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(c_next, cy.detach().numpy(), rtol=1e-13, atol=1e-14)
    for name, got in zip(module.WRT, grads, strict=True):
        want = leaves[name].grad.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13, err_msg=name)


def test_lstm_slices_read_the_hidden_size_at_run_time() -> None:
    text = (GENERATED / "lstm_step.py").read_text()
    assert "H = h.shape[1]" in text
    for index in (
        "a[:, :H]",
        "a[:, H : 2 * H]",
        "a[:, 2 * H : 3 * H]",
        "a[:, 3 * H :]",
    ):
        assert index in text, index
    # the backward writes each gradient back at the same index
    assert "[:, H : 2 * H] = dt5" in text


def test_verify_passes_on_the_lstm_module(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--verify", str(GENERATED / "lstm_step.py")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().splitlines()[-1].startswith("PASS: all")


# --- other programs ------------------------------------------------------------------


def _module(source: str, **options: object) -> object:
    return load_module(generate(source, Options(**options)))  # type: ignore[arg-type]


def test_reshape_with_a_product_of_names() -> None:
    module = _module(
        "X: array[B, T, D]\nW: array[D, E]\nY = reshape(X, B*T, D) @ W\nf = sum(Y * Y)"
    )
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    value, (dx, dw) = module.forward_backward(x, w)
    y = x.reshape(6, 4) @ w
    assert value == pytest.approx(np.sum(y * y), rel=1e-14)
    np.testing.assert_allclose(dx, (2 * y @ w.T).reshape(2, 3, 4), rtol=1e-13)
    np.testing.assert_allclose(dw, x.reshape(6, 4).T @ (2 * y), rtol=1e-13)


def test_a_slice_sized_h_minus_2_meets_a_declared_one() -> None:
    module = _module("x: array[N, H]\ny: array[N, H-2]\nf = sum(x[:, 1:-1] * y)")
    assert module.SHAPES == {"x": ("N", "H"), "y": ("N", "H - 2")}
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 6)), rng.standard_normal((3, 4))
    value, (dx, dy) = module.forward_backward(x, y)
    assert value == pytest.approx(np.sum(x[:, 1:-1] * y), rel=1e-14)
    want = np.zeros_like(x)
    want[:, 1:-1] = y
    np.testing.assert_array_equal(dx, want)
    np.testing.assert_array_equal(dy, x[:, 1:-1])


def test_slice_of_slice_equals_the_longer_slice() -> None:
    # x[1:][1:] and x[2:] have the one size N - 2, so they add
    _module("x: array[N]\nf = sum(x[1:][1:] + x[2:])")


def test_floor_division_sizes_verify(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "halves.py"
    source = "x: array[N, H]\np: array[N, H//2]\nf = sum(p * x[:, :H//2])"
    assert cli.main([source, "-o", str(path)]) == 0
    assert cli.main(["--verify", str(path)]) == 0, capsys.readouterr().out
    assert 'SHAPES = {"x": ("N", "H"), "p": ("N", "H//2")}' in path.read_text()


def test_bindings_keep_every_size_positive() -> None:
    found = bindings(["N", "H"], ["N", "H - 8"])
    assert found
    for binding in found:
        assert size_of("H - 8", binding) >= 1


def test_at_binds_size_expressions(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-f", str(REPO / "examples" / "lstm_step.bp"), "--at", "N=2", "D=3"]
    assert cli.main([*argv, "H=2", "--random", "1"]) == 0
    assert "dh_next/dWx  (3, 8)" in capsys.readouterr().out
    compiled = compile_source(LSTM, Options(), "<lstm>")
    rng = np.random.default_rng(3)
    point = random_point(compiled, {"N": 2, "D": 3, "H": 2}, 0)
    assert np.shape(point["b"]) == (8,)
    check_point(compiled, {**point, "N": 2, "D": 3, "H": 2})
    with pytest.raises(OptionError, match=r"where 4\*H is 8"):
        check_point(compiled, {**point, "b": rng.standard_normal(6)})


# --- bad input: one line, exit status 2 ---------------------------------------------


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("W: array[D, 4*K]\nf = sum(W)", ("'K'", "no input's axis defines", "h:")),
        ("h: array[H]\nW: array[H - H]\nf = sum(W)", ("H - H", "positive")),
        ("W: array[2.5]\nf = sum(W)", ("2.5", "whole number")),
        ("h: array[H]\nW: array[H/2]\nf = sum(W)", ("H / 2", "//")),
        ("h: array[H]\nf = sum(h[:H/2])", ("H / 2", "//")),
        ("h: array[H]\nk = 2\nf = sum(h[:k])", ("'k'", "dimension name")),
        ("h: array[H]\nf = sum(h[:5*H])", ("5*H", "beyond the size H")),
        ("X: array[N, D]\nf = sum(reshape(X, N*D - 1))", ("cannot reshape",)),
        (
            "a: array[N, 4*H]\nc: array[N, 3*H]\nh: array[N, H]\nf = sum(a * c)",
            ("(N, 4*H)", "(N, 3*H)"),
        ),
    ],
)
def test_bad_sizes_are_refused_in_one_line(
    source: str, words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([source]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("backpropgen: error: <expr>:"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
