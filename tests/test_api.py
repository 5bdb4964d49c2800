"""The Python API (``import backpropgen as bpg``) against the command line: the same
text, the same tables, the same one-line errors, and the options of the one table."""

from __future__ import annotations

import inspect
import re
import sys
import traceback
from importlib import import_module
from pathlib import Path
from typing import get_type_hints

import backpropgen as bpg
import numpy as np
import pytest
from conftest import REPO

import cli
from codegen.api import OptionValues
from codegen.graph import find_dot
from codegen.options import OPTIONS, api_options, options_from_api, options_from_cli

AT = {"x": -2, "y": 5, "z": -4}
AT_ARGS = ["--at", "x=-2", "y=5", "z=-4"]


def _cli(capsys: pytest.CaptureFixture[str], argv: list[str], status: int = 0) -> str:
    assert cli.main(argv) == status
    captured = capsys.readouterr()
    return captured.out if status != 2 else captured.err


@pytest.mark.parametrize(
    ("argv", "kwargs"),
    [
        (["x + y*z", "--backend", "math"], {"backend": "math"}),
        (["x*y + sin(x)", "--wrt", "x"], {"wrt": ["x"]}),
        (["q = y*z; f = x + q", "--inputs", "x,y,z"], {"inputs": "x,y,z"}),
        (["x*y", "--mode", "grad,jvp,hvp"], {"mode": ("grad", "jvp", "hvp")}),
        (["f = log(1 + exp(x))", "--stable"], {"stable": True}),
        (
            ["f = x*y", "--target", "layer", "--name", "mul"],
            {"target": "layer", "name": "mul"},
        ),
        (["u = x*y; v = x + y", "--outputs", "u,v"], {"outputs": ["u", "v"]}),
        (["x*y", "--chunks"], {"chunks": True}),
    ],
)
def test_generate_is_what_the_command_line_prints(
    capsys: pytest.CaptureFixture[str], argv: list[str], kwargs: dict
) -> None:
    assert bpg.generate(argv[0], **kwargs) == _cli(capsys, argv)


def test_generate_reads_a_path_as_dash_f(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path("examples/sigmoid_chain.bp")
    expected = _cli(capsys, ["-f", str(path), "--backend", "math"])
    text = bpg.generate(REPO / path, backend="math")
    assert text.split("Regenerate")[0] == expected.split("Regenerate")[0]


def test_keywords_are_the_tables_options() -> None:
    """The typed keywords, the table's Options fields and options_from_api agree."""
    assert list(get_type_hints(OptionValues)) == list(api_options())
    assert set(api_options()) == {o.name for o in OPTIONS if o.field}


def test_api_and_cli_read_the_same_options() -> None:
    given = {"backend": "math", "wrt": "x, y", "mode": "grad,jvp", "stable": True}
    assert options_from_api(given) == options_from_cli(given)
    assert options_from_api({"wrt": ["x", "y"]}) == options_from_cli({"wrt": "x,y"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "fortran"}, "--backend: invalid choice: 'fortran'"),
        ({"stable": "yes"}, "--stable: must be True or False"),
        ({"wrt": 3}, "--wrt: must be a comma-separated string or a list of names"),
        ({"wrt": "x,x"}, "--wrt: 'x' is listed twice"),
        ({"target": 1}, "--target: must be a string"),
        ({"at": {"x": 1}}, "unknown option 'at'"),
    ],
)
def test_bad_options_raise_one_line(
    capsys: pytest.CaptureFixture[str], kwargs: dict, message: str
) -> None:
    with pytest.raises(bpg.OptionError) as info:
        bpg.generate("x*y", **kwargs)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert capsys.readouterr() == ("", "")  # nothing printed


def test_errors_are_the_command_lines_line(capsys: pytest.CaptureFixture[str]) -> None:
    err = _cli(capsys, ["f = x +* y; g = f"], status=2)
    with pytest.raises(bpg.BackpropgenError) as info:
        bpg.compile("f = x +* y; g = f")
    assert isinstance(info.value, bpg.InputError)
    assert err.splitlines()[0] == f"backpropgen: error: {info.value}"
    assert (info.value.line, info.value.column) == (1, 8)
    assert capsys.readouterr() == ("", "")


def test_an_error_without_a_place_has_no_line() -> None:
    with pytest.raises(bpg.BackpropgenError) as info:
        bpg.generate("x*y", wrt="z")
    assert str(info.value) == "--wrt: 'z' is not an input (inputs: x, y)"
    assert (info.value.line, info.value.column) == (None, None)


def test_unstable_spelling_is_a_warning_not_a_print(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.warns(bpg.BackpropgenWarning, match="log_sigmoid"):
        bpg.generate("f = log(sigmoid(x))")
    assert capsys.readouterr() == ("", "")


def test_compile_loads_the_lecture_module() -> None:
    m = bpg.compile("q = y*z; f = x + q", inputs="x,y,z")
    f, grads = m.forward_backward(-2.0, 5.0, -4.0)
    assert (f, tuple(grads)) == (-22.0, (1.0, -4.0, 5.0))
    assert grads._fields == ("x", "y", "z")
    assert sys.modules[m.__name__] is m
    assert re.fullmatch(r"backpropgen_compiled_[0-9a-f]{16}", m.__name__)
    other = bpg.compile("q = y*z; f = x + q", inputs="x,y,z", backend="math")
    assert other.__name__ != m.__name__


def test_compiled_source_shows_in_inspect_and_tracebacks() -> None:
    m = bpg.compile("f = log(x) * y", backend="math")
    source = inspect.getsource(m.forward_backward)
    assert source.startswith("def forward_backward(x, y, df=1.0):")
    assert "t1 = log(x)" in source
    with pytest.raises(ValueError) as info:
        m.forward(-1.0, 2.0)
    shown = "".join(traceback.format_exception(info.value))
    assert f'File "<{m.__name__}>"' in shown
    assert "t1 = log(x)" in shown


def test_verify_a_compiled_module_and_a_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    m = bpg.compile("x*y + sin(x)")
    result = bpg.verify(m)
    assert result.ok
    assert str(result).endswith("PASS: all 4 check(s)")
    path = "generated/sigmoid_chain_math.py"
    shown = _cli(capsys, ["--verify", path])
    assert str(bpg.verify(path)) + "\n" == shown
    assert bpg.verify(REPO / path).ok


def test_verify_finds_a_wrong_gradient(tmp_path: Path) -> None:
    text = bpg.generate("f = x * y", backend="math")
    assert "dx = df * y" in text
    wrong = tmp_path / "wrong.py"
    wrong.write_text(text.replace("dx = df * y", "dx = df * y * 2"))
    result = bpg.verify(wrong)
    assert not result.ok
    assert "FAIL: 2 of 4 check(s)" in str(result)


def test_verify_refuses_what_is_not_a_module() -> None:
    with pytest.raises(bpg.BackpropgenError, match="--verify: give a module"):
        bpg.verify(3)  # type: ignore[arg-type]


def test_trace_is_the_command_lines_table(capsys: pytest.CaptureFixture[str]) -> None:
    shown = _cli(capsys, ["x + y*z", *AT_ARGS, "--trace"])
    result = bpg.trace("x + y*z", at=AT)
    assert str(result) + "\n" == shown
    assert [row.name for row in result.rows] == ["x", "y", "z", "t1", "f"]
    cells = re.findall(r"<t[hd]>(.*?)</t[hd]>", result._repr_html_())
    assert cells == [c for line in shown.splitlines() for c in re.split(r"  +", line)]


def test_trace_refuses_a_string_value() -> None:
    with pytest.raises(bpg.OptionError, match="--at: 'x' = '1' is not NAME=NUMBER"):
        bpg.trace("x*y", at={"x": "1", "y": 2})


def test_graph_text_is_what_dash_graph_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "cli.dot"
    _cli(capsys, ["x + y*z", *AT_ARGS, "--graph", str(written)])
    picture = bpg.graph("x + y*z", at=AT)
    assert picture.dot == written.read_text()
    picture.save(tmp_path / "api.dot")
    assert (tmp_path / "api.dot").read_bytes() == written.read_bytes()
    assert bpg.trace("x + y*z", at=AT).graph().dot == picture.dot


@pytest.mark.skipif(find_dot() is None, reason="Graphviz's dot is not installed")
def test_graph_shows_as_svg_in_jupyter(tmp_path: Path) -> None:
    picture = bpg.graph("x + y*z", at=AT)
    svg = picture._repr_svg_()
    assert svg is not None and "<svg" in svg and "22<" in svg  # the value of f
    picture.save(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


def test_graph_without_dot_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_module("codegen.graph"), "find_dot", lambda: None)
    picture = bpg.graph("x + y*z")
    assert picture._repr_svg_() is None
    assert repr(picture).startswith("graph: drawing .svg needs Graphviz's dot program")
    assert "\n" not in repr(picture)


def test_package_ships_its_type_marker() -> None:
    assert (REPO / "codegen" / "py.typed").is_file()
    assert '"backpropgen" = ["py.typed"]' in (REPO / "pyproject.toml").read_text()


def test_an_array_program_is_drawn_by_its_own_statements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = REPO / "examples" / "two_layer_net.bp"
    written = tmp_path / "cli.dot"
    _cli(capsys, ["-f", str(path), "--graph", str(written)])
    assert bpg.graph(path).dot == written.read_text()
    rng = np.random.default_rng(0)
    n, d, h, c = 4, 3, 5, 3
    at = {
        "X": rng.standard_normal((n, d)),
        "W1": rng.standard_normal((d, h)),
        "b1": np.zeros(h),
        "W2": rng.standard_normal((h, c)),
        "b2": np.zeros(c),
        "y": np.array([0, 1, 2, 1]),
    }
    picture = bpg.graph(path, at=at)
    assert "maximum(0, X @ W1 + b1)" in picture.dot
    assert "arange(N, length" not in picture.dot and "dim(X" not in picture.dot
    assert bpg.trace(path, at=at).graph().dot == picture.dot
