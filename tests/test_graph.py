"""``--graph FILE``: the forward program drawn with the code's names; with ``--at``,
every value and gradient of the trace on the wires.  ``.dot`` is byte-stable across
hash seeds; drawing needs Graphviz's ``dot`` (tests that draw skip without it: CI
installs it); bad paths, a missing ``dot`` and programs too large to draw are one line,
exit 2, nothing written."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, REPO
from oracles import assert_fd_close, central_difference, fd_close, fd_vjp

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


NET = (EXAMPLES / "two_layer_net.bp").read_text()
NET_SIZES = {"N": 4, "D": 3, "H": 5, "C": 3}
WIRE_NODE = re.compile(r'^  "(_w\d+)" \[shape=plaintext margin=0.02 label=<(.*)>\];$')
EDGE = re.compile(r'^  "([^"]+)" -> "([^"]+)"( \[arrowhead=none\])?;$')
GREEN = re.compile(r'<font color="#2e7d32">([^<]*)</font>')
RED = re.compile(r'<font color="#c62828">([^<]*)</font>')


def _picture(text: str) -> tuple[list[str], dict[tuple[str, str], str]]:
    """The dot text's rank=source group, and each wire as (from, to) -> its label,
    checking that every label node sits on exactly one wire and no edge has a label
    of its own."""
    (source_rank,) = [ln for ln in text.splitlines() if "rank=source" in ln]
    sources = re.findall(r'"([^"]+)"', source_rank)
    labels: dict[str, str] = {}
    into: dict[str, list[str]] = {}
    out_of: dict[str, list[str]] = {}
    wires: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        node = WIRE_NODE.match(line)
        if node:
            labels[node[1]] = node[2]
        edge = EDGE.match(line)
        if edge:
            into.setdefault(edge[2], []).append(edge[1])
            out_of.setdefault(edge[1], []).append(edge[2])
        assert "->" not in line or "label" not in line, line
    for node, label in labels.items():
        (tail,) = into[node]
        (head,) = out_of[node]
        assert (tail, head) not in wires
        wires[(tail, head)] = label
    for tail, heads in out_of.items():
        for head in heads:
            if not tail.startswith("_w") and not head.startswith("_w"):
                wires[(tail, head)] = ""  # an unlabelled wire
    return sources, wires


def _numbers(pattern: re.Pattern[str], label: str) -> list[float]:
    return [float(x) for x in pattern.findall(label)]


def test_inputs_first_and_one_label_per_wire() -> None:
    """§1: every input in the rank=source group; each wire one label, its value over
    its gradient: y -> q carries 5 and -4, z -> q carries -4 and 5 (two labels, not
    one column of four numbers)."""
    trace = trace_at(
        "q = y*z; f = x + q",
        Options(inputs=("x", "y", "z")),
        {"x": -2.0, "y": 5.0, "z": -4.0},
        "<expr>",
    )
    sources, wires = _picture(graph.dot_text(trace.compiled, trace))
    assert sources == ["x", "y", "z"]
    got = {w: (_numbers(GREEN, lb), _numbers(RED, lb)) for w, lb in wires.items()}
    assert got == {
        ("y", "q"): ([5.0], [-4.0]),
        ("z", "q"): ([-4.0], [5.0]),
        ("x", "f"): ([-2.0], [1.0]),
        ("q", "f"): ([-20.0], [1.0]),
        ("f", "_out0"): ([-22.0], [1.0]),
    }
    sources, wires = _picture(graph.dot_text(compile_source("x*y", Options())))
    assert sources == ["x", "y"] and set(wires.values()) == {""}  # no --at: no labels


def test_copy_gate_branches_carry_their_share() -> None:
    """The lecture's copy gate: x = 7 read by two gates sends back 4 and 2, each on
    its own wire, and x shows their sum, 6 = 4 + 2."""
    trace = trace_at("f = 4*x + 2*x", Options(), {"x": 7.0}, "<expr>")
    text = graph.dot_text(trace.compiled, trace)
    _, wires = _picture(text)
    assert {w: (_numbers(GREEN, lb), _numbers(RED, lb)) for w, lb in wires.items()} == {
        ("x", "t1"): ([7.0], [4.0]),
        ("x", "t2"): ([7.0], [2.0]),
        ("t1", "f"): ([28.0], [1.0]),
        ("t2", "f"): ([14.0], [1.0]),
        ("f", "_out0"): ([42.0], [1.0]),
    }
    assert (
        '"x" [shape=plaintext label=<<b>x</b><br/><font color="#c62828">6 = 4 + 2'
        in text
    )


def test_a_sum_whose_first_share_is_negative_reads_as_a_number() -> None:
    """f = x*y + x at x = 3, y = -2: x's branches send back -2 and 1, shown as
    ``-1 = -2 + 1`` (not ``- 2``)."""
    trace = trace_at("f = x*y + x", Options(), {"x": 3.0, "y": -2.0}, "<expr>")
    text = graph.dot_text(trace.compiled, trace)
    assert '<font color="#c62828">-1 = -2 + 1</font>' in text
    trace = trace_at("f = x*y - x", Options(), {"x": 3.0, "y": 2.0}, "<expr>")
    assert '<font color="#c62828">1 = 2 - 1</font>' in graph.dot_text(
        trace.compiled, trace
    )


def test_the_fan_out_legend_only_where_a_value_fans_out() -> None:
    fans = "a value read by several gates"
    trace = trace_at("x + y*z", Options(), {"x": -2.0, "y": 5.0, "z": -4.0}, "<e>")
    assert fans not in graph.dot_text(trace.compiled, trace)
    trace = trace_at("f = x*y + x", Options(), {"x": 3.0, "y": -2.0}, "<e>")
    assert fans in graph.dot_text(trace.compiled, trace)


def test_fan_out_shares_are_finite_differences_and_sum_to_the_gradient() -> None:
    """a = x*y; f = a + x*a at x = 3, y = 2: the share of each branch is the central
    difference of f with x (or a) moved on that branch only, written here by hand;
    the shares of a value add up to its gradient in the trace (and under its name)."""
    trace = trace_at("a = x*y; f = a + x*a", Options(), {"x": 3.0, "y": 2.0}, "<e>")
    x, y = 3.0, 2.0
    moved = {  # f with the value read by one gate replaced by v
        ("x", "a"): lambda v: v * y + x * (v * y),
        ("x", "t1"): lambda v: x * y + v * (x * y),
        ("a", "t1"): lambda v: x * y + x * v,
        ("a", "f"): lambda v: v + x * (x * y),
    }
    at = {"x": x, "a": x * y}
    shares = graph.branch_shares(trace)
    assert set(shares) == set(moved)
    for (value, gate), f in moved.items():
        fd = central_difference(f, [at[value]], 0)
        (share,) = shares[(value, gate)]
        assert fd_close(fd, share, abs(f(at[value]))), (value, gate, share, fd)
    rows = {row.name: row.grads[0] for row in trace.rows}
    assert shares[("x", "a")][0] + shares[("x", "t1")][0] == rows["x"] == 14.0
    assert shares[("a", "t1")][0] + shares[("a", "f")][0] == rows["a"] == 4.0
    _, wires = _picture(graph.dot_text(trace.compiled, trace))
    assert _numbers(RED, wires[("x", "a")]) == [8.0]
    assert _numbers(RED, wires[("x", "t1")]) == [6.0]


def test_array_fan_out_shares_against_finite_differences() -> None:
    """W read by two statements of an array program: each branch's share is the
    central difference of f with W moved in that statement only; they sum to dW."""
    source = "X: array[N, D]\nW: array[D]\nh = X @ W\nf = sum(h * h) + sum(W * W)"
    rng = np.random.default_rng(3)
    X, W = rng.standard_normal((4, 3)), rng.standard_normal(3)
    trace = trace_at(source, Options(), {"X": X, "W": W}, "<e>")
    shares = graph.branch_shares(trace)
    by_hand = {
        "h": lambda p: np.sum((X @ p["W"]) ** 2) + np.sum(W * W),
        "f": lambda p: np.sum((X @ W) ** 2) + np.sum(p["W"] * p["W"]),
    }
    for gate, f in by_hand.items():
        fd = fd_vjp(f, {"W": W}, 1.0, "W")
        (share,) = shares[("W", gate)]
        assert_fd_close(share, fd, float(f({"W": W})), gate)
    (dw,) = next(r.grads for r in trace.rows if r.name == "W")
    np.testing.assert_allclose(shares[("W", "h")][0] + shares[("W", "f")][0], dw)


def test_two_layer_net_picture_is_its_own_statements(tmp_path: Path) -> None:
    """The net is drawn as its three statements with their source text, inputs in
    the first column, no step of the lowering, and shapes on the wires; with random
    values of given sizes, each wire shows the shape and a summary.  The same seed
    gives the same bytes."""
    for trace in (None, trace_at(NET, Options(), NET_SIZES, "<net>", seed=0)):
        compiled = compile_source(NET, Options()) if trace is None else trace.compiled
        text = graph.dot_text(compiled, trace, NET)
        sources, wires = _picture(text)
        assert sources == ["X", "W1", "b1", "W2", "b2", "y"]
        gates = re.findall(
            r'^  "(\w+)" \[shape=box style=rounded label=<<b>', text, re.M
        )
        assert gates == ["hidden", "scores", "loss"]
        assert "maximum(0, X @ W1 + b1)" in text and "scores[arange(N), y]" in text
        for internal in ("dim(", "length=", "shift(", '"t1"', '"N"'):
            assert internal not in text, internal
        assert set(wires) == {
            *((n, "hidden") for n in ("X", "W1", "b1")),
            *((n, "scores") for n in ("hidden", "W2", "b2")),
            ("scores", "loss"),
            ("y", "loss"),
            ("loss", "_out0"),
        }
        if trace is None:
            assert "(N, D)" in wires[("X", "hidden")]
        else:
            label = wires[("X", "hidden")]
            assert "(N, D) = (4, 3)" in label
            assert GREEN.search(label)[1].startswith("mean ")  # type: ignore[index]
            assert RED.search(label)[1].startswith("mean ")  # type: ignore[index]
            again = trace_at(NET, Options(), NET_SIZES, "<net>", seed=0)
            assert graph.dot_text(again.compiled, again, NET) == text
            other = trace_at(NET, Options(), NET_SIZES, "<net>", seed=1)
            assert graph.dot_text(other.compiled, other, NET) != text


def _png_width(path: Path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]


@needs_dot
def test_two_layer_net_png_width_is_bounded(tmp_path: Path) -> None:
    """Measured: 3,372 pixels wide when the lowering's steps were drawn; now 1,592
    (shapes only) and 2,363 with values (--at N=4 D=3 H=5 C=3 --random 0)."""
    net = str(EXAMPLES / "two_layer_net.bp")
    result = _cli(tmp_path, "-f", net, "--graph", "net.png")
    assert result.returncode == 0, result.stderr
    assert _png_width(tmp_path / "net.png") < 1800
    sizes = [f"{k}={v}" for k, v in NET_SIZES.items()]
    argv = ["-f", net, "--at", *sizes, "--random", "0", "--graph", "at.png"]
    result = _cli(tmp_path, *argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("dloss/dX   (4, 3) mean ")
    assert _png_width(tmp_path / "at.png") < 2600
