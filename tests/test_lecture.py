"""The lecture's worked examples (its sections 1-3), with its published numbers."""

from __future__ import annotations

import math

import pytest
from conftest import (
    BACKENDS,
    EXAMPLES,
    GENERATED,
    load,
    load_generated,
    options,
    split_statements,
)
from oracles import grads_tuple

import cli
from codegen.evaluate import load_module
from codegen.generate import generate

# --- section 1: f = x + y*z ----------------------------------------------------------

LECTURE_1_POINT = (-2.0, 5.0, -4.0)
LECTURE_1_VALUE = -22.0
LECTURE_1_GRADS = (1.0, -4.0, 5.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("source", ["x + y*z", "q = y*z; f = x + q"])
def test_section1_value_and_gradients(source: str, backend: str) -> None:
    # the program's inputs appear in the order y, z, x: fix the lecture's order
    module = load(source, options(backend, inputs=("x", "y", "z")))
    assert tuple(module.INPUTS) == ("x", "y", "z")
    value, grads = module.forward_backward(*LECTURE_1_POINT)
    assert float(value) == LECTURE_1_VALUE
    assert grads_tuple(grads) == LECTURE_1_GRADS
    assert float(module.forward(*LECTURE_1_POINT)) == LECTURE_1_VALUE
    assert (grads.x, grads.y, grads.z) == grads


@pytest.mark.parametrize("name", ["add_mul", "add_mul_named"])
def test_section1_gallery(name: str) -> None:
    module = load_generated(name)
    value, grads = module.forward_backward(*LECTURE_1_POINT)
    assert float(value) == LECTURE_1_VALUE
    assert grads_tuple(grads) == LECTURE_1_GRADS


def test_section1_named_program_keeps_the_lecture_names() -> None:
    text = (GENERATED / "add_mul_named.py").read_text(encoding="utf-8")
    forward, backward = split_statements(text, "forward_backward")
    assert forward == ["q = y * z", "f = x + q"]
    assert backward[:4] == NUMPY_BROADCAST
    # add distributes (dq, dx), mul swaps (dy, dz); q's block comes after f's
    assert sorted(backward[4:6]) == ["dq = df", "dx = df"]
    assert backward[6:] == ["dy = dq * z", "dz = dq * y"]


def test_section1_at_table(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["x + y*z", "--at", "x=-2", "y=5", "z=-4"])
    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    rows = dict(line.split() for line in out.strip().splitlines())
    assert list(rows) == ["f", "df/dx", "df/dy", "df/dz"]
    assert float(rows["f"]) == LECTURE_1_VALUE
    got = (float(rows["df/dx"]), float(rows["df/dy"]), float(rows["df/dz"]))
    assert got == LECTURE_1_GRADS


# --- section 3: the flat sigmoid chain ------------------------------------------------

SIGMOID_CHAIN = EXAMPLES / "sigmoid_chain.bp"
LECTURE_3_BACKWARD = [
    "de = df * f * (1 - f)",
    "dd = de * 2",
    "dc = dd",
    "db = -dc",
    "da = db * 2",
    "dx = da",
]
LECTURE_3_FORWARD = ["a = x + 1", "b = a * 2", "c = -b", "d = c + 1", "e = d * 2"]
# the math backend writes the integer constants of float arithmetic as floats (the same
# bits, faster on floats: codegen/print_math.py)
MATH_3_FORWARD = ["a = x + 1.0", "b = a * 2.0", "c = -b", "d = c + 1.0", "e = d * 2.0"]
MATH_3_BACKWARD = [
    "de = df * f * (1.0 - f)",
    "dd = de * 2.0",
    "dc = dd",
    "db = -dc",
    "da = db * 2.0",
    "dx = da",
]
NUMPY_BROADCAST = [  # the upstream gradient: an array in a batch call, else np.float64
    "if isinstance(df, float) and isinstance(f, float):",
    "df = np.float64(df)",
    "else:",
    "df = df + np.zeros_like(f)",
]


def _chain_texts() -> list[tuple[str, str]]:
    source = SIGMOID_CHAIN.read_text(encoding="utf-8")
    return [
        ("numpy", (GENERATED / "sigmoid_chain.py").read_text(encoding="utf-8")),
        ("math", (GENERATED / "sigmoid_chain_math.py").read_text(encoding="utf-8")),
        ("numpy", generate(source, options("numpy"))),
        ("math", generate(source, options("math"))),
    ]


CHAIN_TEXTS = _chain_texts()
CHAIN_IDS = ["gallery-numpy", "gallery-math", "fresh-numpy", "fresh-math"]


@pytest.mark.parametrize(("backend", "text"), CHAIN_TEXTS, ids=CHAIN_IDS)
def test_section3_numbers(backend: str, text: str) -> None:
    module = load_module(text)
    f, (dx,) = module.forward_backward(3.0)
    f, dx = float(f), float(dx)
    assert f"{f:.4e}" == "8.3153e-07"  # the lecture: approximately 8.3153e-07
    assert f"{dx:.3e}" == "-3.326e-06"  # the lecture: approximately -3.326e-06
    assert math.isclose(dx, -4 * f * (1 - f), rel_tol=1e-12)  # df/dx = -4 f (1 - f)
    assert float(module.forward(3.0)) == f


@pytest.mark.parametrize(("backend", "text"), CHAIN_TEXTS, ids=CHAIN_IDS)
def test_section3_backward_mirrors_the_lecture(backend: str, text: str) -> None:
    forward, backward = split_statements(text, "forward_backward")
    assert forward[5].startswith("f = ")
    if backend == "numpy":
        assert forward[:5] == LECTURE_3_FORWARD
        assert backward == [*NUMPY_BROADCAST, *LECTURE_3_BACKWARD]
    else:
        assert forward[:5] == MATH_3_FORWARD
        assert backward == MATH_3_BACKWARD
    fwd_only, none = split_statements(text, "forward")
    assert fwd_only == forward
    assert none == []


# --- section 2: gate patterns -----------------------------------------------------------

GATE_POINTS = [(3.0, -2.0), (-1.5, 4.25), (0.5, 0.75)]
UPSTREAMS = [1.0, 2.5, -0.5]


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize(("x", "y"), GATE_POINTS)
def test_add_gate_distributes(x: float, y: float, upstream: float) -> None:
    module = load_generated("add_gate")
    value, grads = module.forward_backward(x, y, upstream)
    assert float(value) == x + y
    assert grads_tuple(grads) == (upstream, upstream)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize(("x", "y"), GATE_POINTS)
def test_copy_gate_adds_up(x: float, y: float, upstream: float) -> None:
    # f = x*y + x: x is used twice, its gradients from both uses add up
    module = load_generated("copy_gate")
    value, grads = module.forward_backward(x, y, upstream)
    assert float(value) == x * y + x
    assert grads_tuple(grads) == (upstream * y + upstream, upstream * x)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize(("x", "y"), GATE_POINTS)
def test_mul_gate_swaps(x: float, y: float, upstream: float) -> None:
    module = load_generated("mul_gate")
    value, grads = module.forward_backward(x, y, upstream)
    assert float(value) == x * y
    assert grads_tuple(grads) == (upstream * y, upstream * x)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize(("x", "y"), [*GATE_POINTS, (2.0, 2.0), (-1.0, -1.0)])
def test_max_gate_routes_to_the_larger(x: float, y: float, upstream: float) -> None:
    module = load_generated("max_gate")
    value, grads = module.forward_backward(x, y, upstream)
    assert float(value) == max(x, y)
    if x > y:
        want = (upstream, 0.0)
    elif y > x:
        want = (0.0, upstream)
    else:  # a tie: the gradient is split evenly
        want = (0.5 * upstream, 0.5 * upstream)
    assert grads_tuple(grads) == want


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("add_gate", "add gate: distributes"),
        ("mul_gate", "mul gate: swaps"),
        ("max_gate", "max gate: routes"),
        ("copy_gate", "fan-out: gradients add up"),
    ],
)
def test_gate_comments(name: str, phrase: str) -> None:
    text = (GENERATED / f"{name}.py").read_text(encoding="utf-8")
    _, backward_part = text.split("# backward", 1)
    assert phrase in backward_part
