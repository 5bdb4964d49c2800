"""The math backend writes the integer literals of float arithmetic as floats
(``de * 2.0``, codegen/print_math.py): the values must be the same bits as with the
program's own integer spelling (``print_math.table(float_literals=False)``), on the
gallery, on hand-picked programs and on random ones, in every function a module has."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import ModuleType

import pytest
from conftest import REPO, options
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen import printing
from codegen.errors import BackpropgenError
from codegen.evaluate import load_module
from codegen.generate import Options, generate
from codegen.print_math import table
from codegen.regen import load_manifest

MODES = ("grad", "jvp", "hvp", "hessian")
FUNCTIONS = ("forward", "forward_backward", "jvp", "hvp", "hessian")
#: zeros of both signs, the sigmoid's -700 branch, huge and tiny values, inf and nan
POINTS = (0.0, -0.0, 0.3, -1.5, 3.0, -800.0, 1e300, -1e-310, math.inf, math.nan)


@contextmanager
def integer_literals() -> Iterator[None]:
    """The math backend printing integer literals as the program writes them."""
    saved = printing.TABLES["math"]
    printing.TABLES["math"] = (table(float_literals=False), *saved[1:])
    try:
        yield
    finally:
        printing.TABLES["math"] = saved


def both(source: str, opts: Options) -> tuple[str, str]:
    """The math module's text with float literals and with integer literals."""
    with integer_literals():
        before = generate(source, opts)
    return before, generate(source, opts)


def bits(value: object) -> object:
    """A value as exact comparable data: a float's IEEE bits (-0.0 included), tuples
    item by item; any nan as "nan".  A nan's sign is not the program's to fix: where
    two nans of opposite signs meet, CPython's specialised float ``+``/``*`` (after a
    function's first 8 calls) keeps the left one's sign, its generic path the right
    one's, so even one unchanged text gives both."""
    if isinstance(value, tuple):
        return tuple(bits(v) for v in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return "nan" if math.isnan(value) else struct.pack("<d", float(value)).hex()
    return repr(value)


def outcome(module: ModuleType, name: str, args: tuple[float, ...]) -> object:
    """What calling ``name`` gives: the bits of its result, or the exception's type
    (math.log(-1.0) raises ValueError in both spellings)."""
    try:
        return bits(getattr(module, name)(*args))
    except (ArithmeticError, ValueError) as error:
        return type(error).__name__


def assert_same_bits(source: str, opts: Options, points: tuple[float, ...]) -> None:
    before_text, after_text = both(source, opts)
    before, after = load_module(before_text), load_module(after_text)
    k = len(after.INPUTS)
    called = 0
    for x in points:
        args = tuple(x * (1 + 0.25 * i) for i in range(k))  # distinct inputs
        for name in FUNCTIONS:
            if not hasattr(after, name):
                continue
            extra = (0.5,) * k if name in ("jvp", "hvp") else ()
            want = outcome(before, name, args + extra)
            assert outcome(after, name, args + extra) == want, (source, name, args)
            called += 1
    assert called


def math_options(modes: tuple[str, ...] = MODES) -> Options:
    return Options(backend="math", mode=modes)


def test_the_float_spelling_is_printed() -> None:
    """Not vacuous: the two spellings differ where the program has integers."""
    before, after = both("f = 1 - x * 2 + sigmoid(x) / 3", options("math"))
    assert "t1 = x * 2\n" in before and "t1 = x * 2.0\n" in after
    assert "1.0 / (1.0 + exp(-x))" in after and "1 / (1 + exp(-x))" in before
    assert "dx + dt1 * 2.0  #" in after and "dx + dt1 * 2  #" in before


def _gallery() -> list[tuple[str, str, Options]]:
    """Every module of the gallery that the math backend can write (the scalar
    ones), with its own options, the backend set to math."""
    entries = []
    for entry in load_manifest(REPO / "pyproject.toml").entries:
        opts = replace(entry.options, backend="math")
        try:
            generate(entry.source, opts)
        except BackpropgenError:  # arrays: the numpy and torch backends only
            continue
        entries.append((entry.name, entry.source, opts))
    return entries


GALLERY = _gallery()


def test_the_gallery_has_math_modules() -> None:
    names = {name for name, _, _ in GALLERY}
    assert {"sigmoid_chain_math", "sigmoid_chain_modes", "add_mul"} <= names


@pytest.mark.parametrize(
    ("name", "source", "opts"), GALLERY, ids=[g[0] for g in GALLERY]
)
def test_gallery_programs_keep_their_bits(
    name: str, source: str, opts: Options
) -> None:
    assert_same_bits(source, opts, POINTS)


HAND_PICKED = [
    "f = x * 2 + 1 - 3 / x",
    "f = 1 / (1 + exp(-2 * x)) * y - 1",
    "f = x**3 + x**-1 + (x + 1) ** 2 + 2 ** y",
    "f = where(x > 0, x, 0) * 2 + where(y < 1, 3, y)",
    "f = max(x, 0) * 2 + min(y, 1) - relu(x) * 4",
    "f = softplus(x) * 2 + log_sigmoid(y) - 1",
    "f = abs(x) * 2 + abs(y - 1) * 3 + tanh(x) * 5",
    "f = x * (1 / 3) + 2 * 3 * y + 0 * x + x - 0",
    "f = 9007199254740993 * x + 9007199254740991 * y",
]


@pytest.mark.parametrize("source", HAND_PICKED)
def test_hand_picked_programs_keep_their_bits(source: str) -> None:
    assert_same_bits(source, math_options(), POINTS)


def test_integer_arithmetic_stays_integer() -> None:
    """``n: int``: ``n * 2`` stays an int (exact beyond 2**53); ``x * n + 2`` takes
    the float."""
    source = "n: int\nx: float\nf = x * n + 2 + n * 3 + (n + 1) * x"
    before, after = both(source, options("math"))
    assert "t3 = n * 3\n" in after and "t5 = n + 1\n" in after
    assert "t2 = t1 + 2.0\n" in after
    module = load_module(after)
    big = 2**60 + 1
    assert module.forward(big, 0.0) == 3 * big + 2 + 0.0  # exact integer part
    for n in (0, 7, -3, big):
        for x in (0.5, -0.0, 1e300):
            want = outcome(load_module(before), "forward_backward", (n, x))
            assert outcome(module, "forward_backward", (n, x)) == want


NAMES = ("x", "y")
CONSTANTS = ("0", "1", "2", "3", "-2", "7", "0.5", "pi", "1 / 3")
UNARY = ("-({})", "exp({})", "tanh({})", "sigmoid({})", "relu({})", "abs({})")
UNARY += ("softplus({})", "log_sigmoid({})", "sqrt(1 + ({}) ** 2)", "({}) ** 3")
BINARY = ("({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (2 + ({}) ** 2)")
BINARY += ("max({}, {})", "min({}, {})", "where(({}) > x, {}, 2)")

leaves = st.sampled_from(NAMES) | st.sampled_from(CONSTANTS)


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(str.format, st.sampled_from(UNARY), children) | st.builds(
        str.format, st.sampled_from(BINARY), children, children
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(expression=st.recursive(leaves, _extend, max_leaves=8))
def test_random_programs_keep_their_bits(expression: str) -> None:
    source = f"x: float\ny: float\nf = ({expression}) * 2 + x - 1"
    assert_same_bits(source, math_options(), POINTS)
