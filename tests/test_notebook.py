"""The cell magic ``%%backpropgen NAME [options]`` in a real IPython shell: it binds
the module, shows the code, the trace table and the graph, and reports errors in one
line; the options are read by the command line's parser."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

import cli

pytest.importorskip(
    "IPython", reason="IPython is not installed: pip install '.[notebook]'"
)
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

CELL = "q = y*z\nf = x + q\n"
LINE = "net --inputs x,y,z --at x=-2 y=5 z=-4"


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ipython = InteractiveShell.instance()
    ipython.run_line_magic("load_ext", "backpropgen")
    return ipython


def _magic(shell: InteractiveShell, line: str, cell: str) -> Any:
    with capture_output() as captured:
        shell.run_cell_magic("backpropgen", line, cell)
    return captured


def _cli(capsys: pytest.CaptureFixture[str], argv: list[str], status: int = 0) -> str:
    assert cli.main(argv) == status
    captured = capsys.readouterr()
    return captured.out if status == 0 else captured.err


def test_magic_binds_the_module_and_shows_code_table_graph(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _magic(shell, LINE, CELL)
    assert shown.stderr == ""
    net = shell.user_ns["net"]
    f, grads = net.forward_backward(-2.0, 5.0, -4.0)
    assert (f, tuple(grads)) == (-22.0, (1.0, -4.0, 5.0))
    code, table, picture = shown.outputs
    assert "forward_backward" in code.data["text/plain"]
    assert '<span class="k">def</span>' in code.data["text/html"]  # highlighted
    argv = [CELL, "--inputs", "x,y,z", "--at", "x=-2", "y=5", "z=-4", "--trace"]
    assert table.data["text/plain"] + "\n" == _cli(capsys, argv)
    assert "<table>" in table.data["text/html"]
    if import_module("codegen.graph").find_dot() is not None:
        assert "<svg" in picture.data["image/svg+xml"]


def test_magic_without_at_shows_the_code_only(shell: InteractiveShell) -> None:
    shown = _magic(shell, "chain --backend math", "a = x + 1\nf = sigmoid(a * 2)\n")
    (code,) = shown.outputs
    assert "from math import exp" in code.data["text/plain"]
    assert shell.user_ns["chain"].forward(0.0) == pytest.approx(0.8807970779778823)


def test_magic_without_dot_says_so_and_shows_the_rest(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_module("codegen.graph"), "find_dot", lambda: None)
    shown = _magic(shell, LINE, CELL)
    code, table, picture = shown.outputs
    assert "image/svg+xml" not in picture.data
    text = picture.data["text/plain"]
    assert "needs Graphviz's dot program" in text and "\n" not in text
    assert "q = y * z" in table.data["text/plain"]


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("bad1", "f = x +* y\n", "<cell>:1:8: syntax error: invalid syntax"),
        ("bad2 --backend fortran", CELL, "argument --backend: invalid choice"),
        ("bad3 --wrt w", CELL, "--wrt: 'w' is not an input"),
        (
            "bad4 x*y",
            CELL,
            "%%backpropgen: the cell is the program: drop an expression",
        ),
        ("--backend math", CELL, "%%backpropgen: name the module first"),
        ("", CELL, "%%backpropgen: name the module first"),
        ("class", CELL, "%%backpropgen: 'class' is not a Python name to bind"),
        ("bad5 --wrt 'x", CELL, "%%backpropgen: cannot split the options"),
        ("bad6 -o out.py", CELL, "%%backpropgen: the cell is the program: drop -o"),
    ],
)
def test_magic_errors_are_one_line_and_bind_nothing(
    shell: InteractiveShell, line: str, cell: str, message: str
) -> None:
    shown = _magic(shell, line, cell)
    assert shown.outputs == []
    assert shown.stderr.startswith(f"backpropgen: error: {message}")
    assert shown.stderr.count("\n") == 1 and "Traceback" not in shown.stderr
    assert not any(name.startswith("bad") for name in shell.user_ns)


def test_magic_reads_quoted_options_like_a_shell(shell: InteractiveShell) -> None:
    shown = _magic(shell, "g --wrt 'x, y' --verify", "f = x*y*z\n")
    code, verified = shown.outputs
    assert 'WRT = ("x", "y")' in code.data["text/plain"]
    assert "PASS: all" in verified.data["text/plain"]


def test_magic_draws_an_array_program_at_random_values(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    program = (REPO / "examples" / "two_layer_net.bp").read_text()
    at = ["--at", "N=4", "D=3", "H=5", "C=3", "--random", "0"]
    shown = _magic(shell, f"tl {' '.join(at)} --graph {tmp_path / 'cell.dot'}", program)
    assert shown.stderr == ""
    code, table, picture = shown.outputs
    argv = [program, *at, "--trace", "--graph", str(tmp_path / "cli.dot")]
    assert table.data["text/plain"] + "\n" == _cli(capsys, argv)
    assert (tmp_path / "cell.dot").read_text() == (tmp_path / "cli.dot").read_text()
    assert "maximum(0, X @ W1 + b1)" in (tmp_path / "cell.dot").read_text()
