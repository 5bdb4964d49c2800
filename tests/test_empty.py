"""A dimension of size 0 at run time gets NumPy's own answers, never an exception:
the mean of an empty array is nan (its gradient an empty array), logsumexp over an
empty axis is -inf and softmax over one is empty; gradients are finite where the math
is defined (the weights of a two-layer net on an empty batch get zeros)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import EXAMPLES, load

from codegen.generate import Options


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def test_the_two_layer_net_on_an_empty_batch() -> None:
    module = load((EXAMPLES / "two_layer_net.bp").read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    d, h, c = 4, 3, 5
    args = (
        np.zeros((0, d)),
        rng.standard_normal((d, h)),
        rng.standard_normal(h),
        rng.standard_normal((h, c)),
        rng.standard_normal(c),
        np.zeros(0, dtype=int),
    )
    value, grads = _quiet(module.forward_backward, *args)
    assert np.isnan(value)  # the mean of nothing, as np.mean says
    assert np.isnan(_quiet(module.forward, *args))
    assert grads.X.shape == (0, d)
    for name in ("W1", "b1", "W2", "b2"):
        g = getattr(grads, name)
        assert g.shape == np.shape(args[module.INPUTS.index(name)])
        assert np.all(np.isfinite(g)) and not np.any(g)  # no example: no gradient


def test_mean_of_an_empty_array() -> None:
    module = load("x: array[N]\nf = mean(x * x)")
    value, grads = _quiet(module.forward_backward, np.zeros(0))
    assert np.isnan(value) and grads.x.shape == (0,)


@pytest.mark.parametrize(
    ("function", "want"),
    [("logsumexp", -np.inf), ("log_softmax", None), ("softmax", None)],
)
def test_reductions_over_an_empty_axis(function: str, want: float | None) -> None:
    source = f"a: array[N, C]\nw: array[N, C]\nf = sum({function}(a, axis=1) * 1.0)"
    if function == "logsumexp":
        source = "a: array[N, C]\nf = logsumexp(a, axis=1)"
    module = load(source)
    a = np.zeros((3, 0))
    args = (a,) if function == "logsumexp" else (a, np.zeros((3, 0)))
    value = _quiet(module.forward, *args)
    if want is not None:
        np.testing.assert_array_equal(value, np.full(3, want))
        dout = np.ones(3)
        _, grads = _quiet(module.forward_backward, *args, dout)
    else:
        assert value == 0.0  # a sum over nothing
        _, grads = _quiet(module.forward_backward, *args)
    assert grads.a.shape == (3, 0)


def test_non_empty_inputs_are_unchanged_by_the_guards() -> None:
    """initial=-inf changes nothing where the axis has elements: the same values as
    without it, to the last bit (numpy's max ignores an initial below every value)."""
    module = load("a: array[N, C]\nf = logsumexp(a, axis=1)", Options())
    a = np.random.default_rng(1).standard_normal((4, 6)) * 50
    m = a.max(axis=1, keepdims=True)
    want = (np.log(np.exp(a - m).sum(axis=1, keepdims=True)) + m).squeeze(1)
    np.testing.assert_array_equal(module.forward(a), want)


#: name -> (source, the shape of w for labels of shape (n, c))
INTEGER_SOURCES = {
    "logsumexp": (
        "Y: int[N, C]\nw: array[N]\nf = sum(logsumexp(Y, axis=1) * w)",
        lambda n, c: (n,),
    ),
    "log_softmax": (
        "Y: int[N, C]\nw: array[N, C]\nf = sum(log_softmax(Y, axis=1) * w)",
        lambda n, c: (n, c),
    ),
    "softmax": (
        "Y: int[N, C]\nw: array[N, C]\nf = sum(softmax(Y, axis=1) * w)",
        lambda n, c: (n, c),
    ),
    "logsumexp, all axes": (
        "Y: int[N, C]\nw: float\nf = logsumexp(Y) * w",
        lambda n, c: (),
    ),
}


@pytest.mark.parametrize("name", list(INTEGER_SOURCES))
def test_integer_arrays_into_the_max_shift(name: str) -> None:
    """An int array into the max shift of logsumexp/softmax (int labels cannot take
    ``initial=-inf``): the values and gradients the module gives for the same numbers
    as floats, over a non-empty and a size-0 axis."""
    source, w_shape = INTEGER_SOURCES[name]
    module = load(source)
    rng = np.random.default_rng(4)
    for n, c in ((3, 5), (3, 0)):
        labels = rng.integers(-4, 9, size=(n, c))
        w = rng.standard_normal(w_shape(n, c))
        want_value, want_grads = _quiet(module.forward_backward, labels * 1.0, w)
        value, grads = _quiet(module.forward_backward, labels, w)
        np.testing.assert_array_equal(value, want_value)
        np.testing.assert_array_equal(grads.w, want_grads.w)
        assert np.asarray(value).dtype == np.float64
