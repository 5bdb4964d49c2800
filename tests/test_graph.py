"""``--graph FILE``: the forward program drawn with the code's names; with ``--at``,
every value and gradient of the trace on the wires.  ``.dot`` is byte-stable across
hash seeds; drawing needs Graphviz's ``dot`` (tests that draw skip without it: CI
installs it); bad paths, a missing ``dot`` and programs too large to draw are one line,
exit 2, nothing written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from importlib import import_module
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO

import cli
from codegen.errors import OptionError
from codegen.generate import compile_source
from codegen.options import Options
from codegen.trace import number, trace_at

# the module: the package's attribute `graph` is the API's function
graph = import_module("codegen.graph")

PREFIX = "backpropgen: error: "
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (apt-get install graphviz)",
)
SIGMOID_CHAIN = (EXAMPLES / "sigmoid_chain.bp").read_text()


def _texts(svg: Path) -> list[str]:
    """Every piece of text the SVG shows (it must parse as XML)."""
    root = ET.parse(svg).getroot()
    return [
        t.text.strip() for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text
    ]


def _cli(
    tmp_path: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "cli.py"), *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=120,
    )


@needs_dot
@pytest.mark.parametrize(
    "source, point",
    [
        ("q = y*z; f = x + q", {"x": -2.0, "y": 5.0, "z": -4.0}),
        (SIGMOID_CHAIN, {"x": 3.0}),
        ("f = x*y + x", {"x": 2.0, "y": 3.0}),
        ("a = y * y; u = x * a; v = x + y\nu, v", {"x": 2.0, "y": 3.0}),
    ],
    ids=["section1", "section3", "fan-out", "two-outputs"],
)
def test_svg_holds_every_name_value_and_gradient(
    tmp_path: Path, source: str, point: dict[str, float]
) -> None:
    trace = trace_at(source, Options(), point, "<expr>")
    target = tmp_path / "g.svg"
    graph.write_graph(str(target), graph.graph_file(str(target), trace.compiled, trace))
    texts = _texts(target)
    for row in trace.rows:
        assert row.name in texts, row.name
        assert number(row.value) in texts, (row.name, row.value)
        for grad in row.grads:
            if grad is not None:
                assert number(grad) in " ".join(texts), (row.name, grad)
    assert "value" in texts and "gradient" in texts  # the legend


@needs_dot
def test_lecture_pictures(tmp_path: Path) -> None:
    """§1 shows -22 and the gradients 1, -4, 5; §3 its values 4 ... -14 and
    df/dx = -4 f (1 - f) at x = 3, through the command line."""
    result = _cli(
        tmp_path, "x + y*z", "--at", "x=-2", "y=5", "z=-4", "--graph", "1.svg"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["f", "-22.0"]  # --at's table
    texts = _texts(tmp_path / "1.svg")
    for shown in ("-22", "-20", "1", "-4", "5", "x", "y", "z", "t1", "f", "y * z"):
        assert shown in texts, shown
    chain = tmp_path / "chain.bp"
    chain.write_text(SIGMOID_CHAIN)
    result = _cli(
        tmp_path, "-f", "chain.bp", "--at", "x=3", "--trace", "--graph", "3.svg"
    )
    assert result.returncode == 0, result.stderr
    texts = _texts(tmp_path / "3.svg")
    for shown in ("4", "8", "-8", "-7", "-14", "sigmoid(e)", "-3.32611e-06"):
        assert shown in texts, shown


@needs_dot
def test_png_and_arrays(tmp_path: Path) -> None:
    """A PNG is a PNG; an array program draws (no --at) with shapes on its wires, and
    the module is still printed."""
    net = str(EXAMPLES / "two_layer_net.bp")
    result = _cli(tmp_path, "-f", net, "--graph", "net.png")
    assert result.returncode == 0, result.stderr
    assert "def forward_backward(" in result.stdout
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = _cli(tmp_path, "-f", net, "--graph", "net.svg", "-o", "net.py")
    assert result.returncode == 0, result.stderr
    texts = _texts(tmp_path / "net.svg")
    assert "hidden" in texts and "loss" in texts and "(N, H)" in texts


def test_dot_is_byte_stable_across_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        target = f"g{seed}.dot"
        argv = ("-f", str(EXAMPLES / "two_layer_net.bp"), "--graph", target)
        assert _cli(tmp_path, *argv, env=env).returncode == 0
        argv = ("max(x, y, z) * sin(x*y) + x*y", "--at", "x=1", "y=2", "z=0.5")
        assert _cli(tmp_path, *argv, "--graph", "at" + target, env=env).returncode == 0
        outputs.append(
            (tmp_path / target).read_bytes() + (tmp_path / ("at" + target)).read_bytes()
        )
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"digraph backpropgen" in outputs[0]


def test_dot_needs_no_graphviz_and_svg_names_the_package(tmp_path: Path) -> None:
    """With no dot on PATH: .dot is written; .svg and .png are one line naming the
    Debian package graphviz, exit 2, nothing written."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    result = _cli(tmp_path, "x + y*z", "--graph", "g.dot", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.dot").exists()
    for name in ("g.svg", "g.png"):
        result = _cli(
            tmp_path, "x + y*z", "--at", "x=1", "y=2", "z=3", "--graph", name, env=env
        )
        assert result.returncode == 2
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(PREFIX + f"--graph {name}") and "graphviz" in line, line
        assert not (tmp_path / name).exists()


def _chain(n: int) -> str:
    return "\n".join(["a0 = x * 2", *(f"a{i} = sin(a{i - 1})" for i in range(1, n))])


def test_too_large_to_draw_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the node limit, .svg is refused before dot runs; .dot is still written."""
    monkeypatch.setattr(graph, "find_dot", lambda: "/nonexistent/dot-must-not-run")
    compiled = compile_source(_chain(graph.DRAW_LIMIT + 1), Options())
    start = time.perf_counter()
    with pytest.raises(OptionError, match="too many to draw.*write .dot") as info:
        graph.graph_file(str(tmp_path / "big.svg"), compiled)
    assert time.perf_counter() - start < 10
    assert info.value.where == f"--graph {tmp_path / 'big.svg'}"
    text = graph.graph_file(str(tmp_path / "big.dot"), compiled)
    assert text.count(b" -> ") == graph.DRAW_LIMIT + 2  # x, the chain, the output


@needs_dot
def test_a_slow_drawing_is_abandoned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dot past its time limit: one line, nothing written (the limit made tiny)."""
    monkeypatch.setattr(graph, "DOT_TIMEOUT", 0.001)
    compiled = compile_source(_chain(300), Options())
    with pytest.raises(OptionError, match="took more than"):
        graph.graph_file(str(tmp_path / "g.svg"), compiled)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, place, what",
    [
        (["x*y", "--graph", "g.pdf"], "--graph g.pdf", "'.pdf' is not a graph format"),
        (["x*y", "--graph", "g"], "--graph g", "no extension"),
        (["x*y", "--graph", "missing/g.svg"], "--graph missing/g.svg", "no such dir"),
        (["x*y", "--graph", "sub"], "--graph sub", "a folder"),
        (["x*y", "--graph", "sub/"], "--graph sub/", "a folder"),
        (["x*y", "--graph", "g.dot", "--at", "x=1"], "--at", "'y'"),
        (["x*", "--graph", "g.dot"], "<expr>", ""),
        (["x*y", "--graph", "g.dot", "-o", "missing/m.py"], "-o", "directory"),
        (["--check", "--graph", "g.dot"], "--check", "drop --graph"),
        (["x*y", "--graph", "/proc/g.dot"], "--graph /proc/g.dot", "cannot write"),
    ],
    ids=[
        "extension",
        "no-extension",
        "no-directory",
        "folder",
        "folder-slash",
        "at-missing",
        "syntax",
        "bad-o",
        "check",
        "unwritable",
    ],
)
def test_bad_graph(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    place: str,
    what: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.splitlines()[0]
    assert line.startswith(PREFIX + place) and what in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["sub"]
    assert list((tmp_path / "sub").iterdir()) == []
