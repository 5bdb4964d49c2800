"""--target layer: the CS231n pair NAME_forward -> (out, cache) and NAME_backward(dout,
cache) -> grads.  The same statements as the flat module, split at the cache: the
gradients equal the flat module's exactly, and the cache holds nothing the backward
does not read."""

from __future__ import annotations

import numpy as np
import pytest
from array_helpers import bindings, build, sample, seed_of
from conftest import EXAMPLES, load, load_generated

from codegen.errors import OptionError
from codegen.generate import Options, generate

#: example -> integer labels' bounds
PROGRAMS: dict[str, dict[str, object]] = {
    "affine_relu": {},
    "batchnorm": {},
    "two_layer_net": {"y": "C"},
    "svm_loss_batched": {"y": "C"},
    "matmul": {},
}


def _layer(name: str):
    source = (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8")
    return source, load(source, Options(target="layer", name=name))


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_layer_gradients_equal_the_flat_modules_exactly(name: str) -> None:
    source, layer = _layer(name)
    flat = build(source)
    forward = getattr(layer, f"{name}_forward")
    backward = getattr(layer, f"{name}_backward")
    for bind in bindings(flat.symbols()):
        rng = np.random.default_rng(seed_of("layer", name, sorted(bind.items())))
        point = sample(flat, bind, rng, labels=PROGRAMS[name])
        args = [point[n] for n in flat.inputs]
        out, cache = forward(*args)
        value, grads = flat.module.forward_backward(*args, *_upstream(out, rng))
        np.testing.assert_array_equal(out, value)
        got = backward(*_upstream(out, rng, again=True), cache)
        assert type(got)._fields == tuple(flat.wrt)
        for g, want in zip(got, grads, strict=True):
            np.testing.assert_array_equal(g, want)


_SAVED: dict[int, object] = {}


def _upstream(out, rng, again: bool = False):
    """The same upstream gradient for both calls: an array shaped like ``out``."""
    if not again:
        _SAVED[0] = rng.standard_normal(np.shape(out)) if np.ndim(out) else 1.5
    return (_SAVED[0],)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_cache_holds_exactly_what_the_backward_reads(name: str) -> None:
    source, layer = _layer(name)
    flat = build(source)
    bind = bindings(flat.symbols())[0]
    rng = np.random.default_rng(seed_of("cache", name))
    point = sample(flat, bind, rng, labels=PROGRAMS[name])
    out, cache = getattr(layer, f"{name}_forward")(*(point[n] for n in flat.inputs))
    backward = getattr(layer, f"{name}_backward")
    dout = rng.standard_normal(np.shape(out)) if np.ndim(out) else 1.0
    backward(dout, cache)  # the whole cache: fine
    assert len(cache._fields) > 0
    for field in cache._fields:
        # every use of a missing field fails: the backward reads each one
        broken = cache._replace(**{field: _Missing()})
        with pytest.raises(_Read):
            backward(dout, broken)


class _Read(Exception):
    pass


class _Missing:
    """A cache field taken away: any use of it (as an array, a number, an index, an
    attribute) raises _Read."""

    def __getattr__(self, name: str):
        raise _Read(name)

    def __array__(self, *args, **kwargs):
        raise _Read("__array__")

    def __index__(self):
        raise _Read("__index__")

    def __float__(self):
        raise _Read("__float__")

    def _op(self, *args):
        raise _Read("operator")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _op
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __matmul__ = __rmatmul__ = _op
    __gt__ = __lt__ = __ge__ = __le__ = __neg__ = _op
    __len__ = __iter__ = _op


def test_gallery_layers_are_the_flat_gallery_split() -> None:
    for name in ("affine_relu", "batchnorm"):
        layer = load_generated(f"{name}_layer")
        flat = load_generated(name)
        assert layer.WRT == flat.WRT and layer.INPUTS == flat.INPUTS
        assert layer.Cache._fields == layer.CACHE
        text = generate(
            (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8"),
            Options(target="layer", name=name),
        )
        assert f"def {name}_forward(" in text and f"def {name}_backward(" in text


def test_scalar_layer_with_several_outputs() -> None:
    module = load("u = x*y; v = sin(x) + y\nu, v", Options(target="layer"))
    (u, v), cache = module.layer_forward(2.0, 3.0)
    grads = module.layer_backward(1.0, 0.0, cache)
    assert (float(grads.x), float(grads.y)) == (3.0, 2.0)
    grads = module.layer_backward(0.0, 1.0, cache)
    assert float(grads.x) == pytest.approx(np.cos(2.0), rel=1e-15)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (Options(target="layers"), "unknown target"),
        (Options(target="layer", name="2x"), "not a valid function name"),
        (Options(target="layer", name="class"), "not a valid function name"),
        (Options(target="function"), "needs the torch backend"),
    ],
)
def test_bad_targets_and_names(options: Options, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        generate("x * y", options)


REGULARIZED = (
    "X: array[N, D]\nW: array[D, M]\nreg: float\n"
    "loss = sum(X @ W) + 0.5 * reg * sum(W * W)"
)


def _cached_arrays_are_read_for_their_values(layer, name, args, rng) -> None:
    """Each array the cache holds changes the gradients when its values change (an
    array read only for its shape would not: the cache holds its shape instead)."""
    out, cache = getattr(layer, f"{name}_forward")(*args)
    backward = getattr(layer, f"{name}_backward")
    dout = rng.standard_normal(np.shape(out)) if np.ndim(out) else 1.0
    grads = backward(dout, cache)
    arrays = [f for f in cache._fields if isinstance(getattr(cache, f), np.ndarray)]
    for field in arrays:
        value = getattr(cache, field)
        if value.dtype.kind != "f" or not value.size:
            continue  # integer labels: changing them is no perturbation
        other = value + rng.uniform(0.5, 1.5, value.shape)
        changed = backward(dout, cache._replace(**{field: other}))
        assert any(
            not np.array_equal(a, b) for a, b in zip(grads, changed, strict=True)
        ), f"the cache holds {field}, whose values the backward never reads"


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_cached_arrays_are_read_for_their_values(name: str) -> None:
    source, layer = _layer(name)
    flat = build(source)
    bind = bindings(flat.symbols())[0]
    rng = np.random.default_rng(seed_of("values", name))
    point = sample(flat, bind, rng, labels=PROGRAMS[name])
    _cached_arrays_are_read_for_their_values(
        layer, name, [point[n] for n in flat.inputs], rng
    )


def test_a_shape_is_cached_where_only_a_shape_is_read() -> None:
    """sum(X @ W) + 0.5 * reg * sum(W * W): the backward reads X @ W and W * W only
    for their shapes (np.full_like), so the cache holds those shapes; the gradients
    match central differences."""
    layer = load(REGULARIZED, Options(target="layer"))
    rng = np.random.default_rng(9)
    X, W, reg = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), 0.3
    loss, cache = layer.layer_forward(X, W, reg)
    shapes = [v for v in cache if isinstance(v, tuple)]
    assert sorted(shapes) == [(3, 2), (4, 2)]
    _cached_arrays_are_read_for_their_values(layer, "layer", [X, W, reg], rng)
    grads = layer.layer_backward(1.0, cache)

    def f(X, W, reg):
        return (X @ W).sum() + 0.5 * reg * (W * W).sum()

    h = 1e-6
    for k, value in enumerate((X, W)):
        want = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            step = np.zeros_like(value)
            step[index] = h
            args = [X, W, reg]
            args[k] = value + step
            up = f(*args)
            args[k] = value - step
            want[index] = (up - f(*args)) / (2 * h)
        np.testing.assert_allclose(grads[k], want, rtol=1e-7, atol=1e-8)
    want_reg = (f(X, W, reg + h) - f(X, W, reg - h)) / (2 * h)
    assert float(grads.reg) == pytest.approx(want_reg, rel=1e-7)
