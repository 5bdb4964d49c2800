"""Reassignment and augmented assignment (``a = a * a``, ``loss += ...``).

Each reassigned program must give the same values and gradients as the
single-assignment program with its versions renamed by hand (both backends), and the
reassigned one is checked against central differences on its own too.  The names in
the generated code follow the rule of ``linearize.REASSIGNMENT_RULE``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load, options
from oracles import central_difference, check_vjp, fd_close

from codegen.errors import InputError
from codegen.generate import Options, compile_source, generate
from codegen.linearize import REASSIGNMENT_RULE

#: (reassigned program, the same program with every name assigned once)
SCALAR_CORPUS: dict[str, tuple[str, str]] = {
    "square": (
        "a = x + 1\na = a * a\nf = a + x",
        "a1 = x + 1\na2 = a1 * a1\nf = a2 + x",
    ),
    "relu-chain": (
        "h = x * y\nh = relu(h)\nh = tanh(h) + h\nf = h * y",
        "h1 = x * y\nh2 = relu(h1)\nh3 = tanh(h2) + h2\nf = h3 * y",
    ),
    "augmented": (
        "loss = x * x\nloss += 0.5 * y * y\nloss -= x * y\nloss *= 3\nloss /= y",
        "l1 = x * x\nl2 = l1 + 0.5 * y * y\nl3 = l2 - x * y\nl4 = l3 * 3\nl5 = l4 / y",
    ),
    "one-line": (
        "a = x; a = a * y; a = sin(a); f = a",
        "a1 = x; a2 = a1 * y; a3 = sin(a2); f = a3",
    ),
    "input-reassigned": (
        "x: float\ny: float\nx = x * y\nx = x + y\nf = exp(x) * y",
        "x: float\ny: float\nx1 = x * y\nx2 = x1 + y\nf = exp(x2) * y",
    ),
    "input-augmented": (
        "x: float\ny: float\nx += y * y\nx *= x\nf = x",
        "x: float\ny: float\nx1 = x + y * y\nx2 = x1 * x1\nf = x2",
    ),
    "reads-old-and-new": (
        "a = x * y\nb = a + 1\na = a * b\nf = a - b",
        "a1 = x * y\nb = a1 + 1\na2 = a1 * b\nf = a2 - b",
    ),
    "name-clash": (
        "a_1 = x * 2\na = x + y\na = a * a_1\nf = a + a_1",
        "c = x * 2\na1 = x + y\na2 = a1 * c\nf = a2 + c",
    ),
}

POINTS = ({"x": 0.7, "y": 1.3}, {"x": -1.1, "y": 0.4}, {"x": 2.5, "y": -0.9})


def _values_and_grads(module, point):
    args = [point[name] for name in module.INPUTS]
    value, grads = module.forward_backward(*args)
    return value, dict(zip(module.WRT, grads, strict=True))


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("case", sorted(SCALAR_CORPUS))
def test_reassigned_equals_renamed(case: str, backend: str) -> None:
    reassigned, renamed = SCALAR_CORPUS[case]
    got = load(reassigned, options(backend))
    want = load(renamed, options(backend))
    assert got.INPUTS == want.INPUTS
    for point in POINTS:
        value, grads = _values_and_grads(got, point)
        value_want, grads_want = _values_and_grads(want, point)
        # the same operations in the same order: equal to the last bit
        assert float(value) == float(value_want)
        assert {k: float(v) for k, v in grads.items()} == {
            k: float(v) for k, v in grads_want.items()
        }
        # and the gradient is the gradient of forward (of the input values passed in)
        args = [point[name] for name in got.INPUTS]
        for index, name in enumerate(got.INPUTS):
            fd = central_difference(got.forward, args, index)
            assert fd_close(fd, float(grads[name]), abs(float(value))), (name, fd)


def test_names_follow_the_rule() -> None:
    text = generate("a = x + 1\na = a * a\nf = a + x")
    assert "a_1 = x + 1" in text
    assert "a = a_1 * a_1" in text
    assert "da_1 = da * a_1" in text
    # an input keeps its name (its gradient is dx); its new values are x_1, x_2
    text = generate("x: float\nx = x * x\nx = x + 1\nf = x")
    assert "x_1 = x * x" in text
    assert "x_2 = x_1 + 1" in text
    assert "return f, Grads(dx)" in text
    # a version name the program already uses gets a further suffix
    text = generate("a_1 = x * 2\na = x + y\na = a * a_1\nf = a")
    assert "a_1_2 = x + y" in text
    assert "a = a_1_2 * a_1" in text


def test_output_is_the_newest_value() -> None:
    module = load("u = x * 2\nv = u + 1\nu = u * u\nu, v")
    (u, v), _ = module.forward_backward(3.0, 1.0, 0.0)
    assert (u, v) == (36.0, 7.0)
    module = load("x: float\nx = x * 3", Options())
    assert module.forward(2.0) == 6.0
    assert module.OUTPUT == "x_1"


def test_two_layer_net_with_reassignment() -> None:
    """h = relu(h) and loss += reg term, against the renamed program and against
    central differences."""
    head = (
        "X: array[N, D]\nW1: array[D, H]\nb1: array[H]\nW2: array[H, C]\n"
        "b2: array[C]\ny: int[N]\nreg: float\n"
    )
    reassigned = head + (
        "h = X @ W1 + b1\nh = maximum(0, h)\nh = h @ W2 + b2\n"
        "loss = mean(logsumexp(h, axis=1) - h[arange(N), y])\n"
        "loss += 0.5 * reg * sum(W1 * W1)\nloss += 0.5 * reg * sum(W2 * W2)\n"
    )
    renamed = head + (
        "h1 = X @ W1 + b1\nh2 = maximum(0, h1)\nh3 = h2 @ W2 + b2\n"
        "l1 = mean(logsumexp(h3, axis=1) - h3[arange(N), y])\n"
        "l2 = l1 + 0.5 * reg * sum(W1 * W1)\nl3 = l2 + 0.5 * reg * sum(W2 * W2)\n"
    )
    got, want = load(reassigned), load(renamed)
    rng = np.random.default_rng(11)
    point = {
        "X": rng.standard_normal((5, 3)),
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4),
        "W2": rng.standard_normal((4, 2)),
        "b2": rng.standard_normal(2),
        "y": rng.integers(0, 2, 5),
        "reg": 0.3,
    }
    args = [point[n] for n in got.INPUTS]
    value, grads = got.forward_backward(*args)
    value_want, grads_want = want.forward_backward(*args)
    assert value == value_want
    for g, w in zip(grads, grads_want, strict=True):
        np.testing.assert_array_equal(g, w)
    wrt = dict(zip(got.WRT, grads, strict=True))

    def forward(p):
        return got.forward(*[p[n] for n in got.INPUTS])

    check_vjp(forward, point, 1.0, wrt)
    text = generate(reassigned)
    assert "h_2 = np.maximum(0, h_1)" in text
    assert "loss = loss_2 + " in text


def test_header_note_only_when_reassigned() -> None:
    def notes(source: str) -> tuple[str, ...]:
        return compile_source(source, Options()).notes

    assert REASSIGNMENT_RULE not in notes("a = x + 1\nf = a * a")
    assert REASSIGNMENT_RULE in notes("a = x + 1\na = a * a")
    assert REASSIGNMENT_RULE in notes("a = x\na += 1")
    assert REASSIGNMENT_RULE in notes("x: float\nx = x * 2")


@pytest.mark.parametrize(
    ("source", "place", "words"),
    [
        ("f = x\nloss += f", "<expr>:2", ("'loss += ...'", "no value")),
        ("loss -= x", "<expr>:1", ("'loss -= ...'", "no value")),
        ("X: array[N]\nN = 2\nf = sum(X)", "<expr>:2", ("'N'", "dimension")),
        ("X: array[N]\nN *= 2\nf = sum(X)", "<expr>:2", ("'N'", "dimension")),
        ("a = x\na //= 2", "<expr>:2:1", ("'//='",)),
        ("b = a * 2\na = x\nf = a + b", "<expr>:1:5", ("'a'", "before", "a: float")),
    ],
)
def test_bad_reassignments(source: str, place: str, words: tuple[str, ...]) -> None:
    with pytest.raises(InputError) as info:
        generate(source)
    message = info.value.one_line()
    assert message.startswith(place)
    for word in words:
        assert word in message, message
    assert "\n" not in message
