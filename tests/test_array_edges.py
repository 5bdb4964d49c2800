"""Array edge cases: slices of slices, provably out-of-range indices, reshape of a
scalar."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load
from oracles import check_vjp

from codegen.dims import dim_text, symbol
from codegen.errors import InputError
from codegen.generate import generate
from codegen.shapes import sliced

SECOND_DIFFERENCE = (
    "x: array[N]\nd1 = x[1:] - x[:-1]\nd2 = d1[1:] - d1[:-1]\nout = sum(d2 * x[1:-1])"
)

N = symbol("N")


def test_slice_of_slice_has_the_equal_label() -> None:
    assert sliced((N - 1,), ((1, None, None),)) == (N - 2,)
    assert sliced((N - 1,), ((None, -1, None),)) == (N - 2,)
    assert sliced((N,), ((1, -1, None),)) == (N - 2,)
    assert sliced((N + 1,), ((1, None, None),)) == ("N",)
    assert sliced(("N",), ((1, None, None),)) == (N - 1,)
    assert dim_text(sliced((symbol("N_2"),), ((3, None, None),))[0]) == "N_2 - 3"


def test_second_difference_penalty() -> None:
    module = load(SECOND_DIFFERENCE)
    x = np.random.default_rng(5).standard_normal(7)
    value, (dx,) = module.forward_backward(x)
    d2 = np.diff(x, 2)
    assert value == pytest.approx(np.sum(d2 * x[1:-1]), rel=1e-14)
    check_vjp(lambda p: module.forward(p["x"]), {"x": x}, 1.0, {"x": dx})


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("X: array[N, C]\nf = sum(X[N])", ("index N", "axis 0 of size N", "N - 1")),
        ("X: array[N, C]\nf = sum(X[arange(N), C])", ("index C", "size C")),
        ("X: array[N, 3]\nf = sum(X[arange(N), 3])", ("index 3", "0 to 2")),
        ("X: array[N, 3]\nf = sum(X[arange(N), -4])", ("index -4",)),
        (
            "X: array[N, C]\nd = X[1:]\nf = sum(d[arange(N)])",
            ("index arange(N)", "size N - 1", "0 to N - 2"),
        ),
        (
            "X: array[N, C]\nd = X[1:][1:]\nf = sum(d[arange(N - 1)])",
            None,  # N - 1 is a value, not a dimension: arange refuses it
        ),
    ],
)
def test_out_of_range_indices_refused(source: str, words) -> None:
    with pytest.raises(InputError) as info:
        generate(source)
    message = info.value.one_line()
    assert "\n" not in message
    for word in words or ():
        assert word in message, message


@pytest.mark.parametrize(
    "source",
    [
        "X: array[N, 3]\ny: int[N]\nf = sum(X[arange(N), y])",
        "X: array[N, 3]\nf = sum(X[arange(N), 2]) + sum(X[arange(N), -3])",
        "X: array[N, C]\nd = X[:, 1:]\nf = sum(d[arange(N), C - 2])",
    ],
)
def test_indices_that_may_be_in_range_are_accepted(source: str) -> None:
    generate(source)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("c: float\nf = reshape(c, 1, 1)", ("'c'", "scalar input")),
        ("X: array[N]\nf = sum(reshape(N, 1) * X)", ("'N'", "size of a dimension")),
        ("X: array[N]\nf = sum(reshape(2.0, 1) * X)", ("'2.0'", "constant")),
        ("X: array[N]\ns = sum(X)\nf = sum(reshape(s * 2, 1))", ("'s * 2'", "scalar")),
    ],
)
def test_reshape_of_a_scalar(source: str, words: tuple[str, ...]) -> None:
    with pytest.raises(InputError) as info:
        generate(source)
    message = info.value.one_line()
    assert message.startswith("<expr>:") and "reshape()" in message
    for word in words:
        assert word in message, message
