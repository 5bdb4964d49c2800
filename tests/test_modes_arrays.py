"""Forward mode and Hessian-vector products on array programs (the gallery's lecture
examples): ``jvp`` against central differences of ``forward`` along the tangents,
``hvp`` against central differences of ``forward_backward``'s gradient along the
vector, and the symmetry u·(Hv) = v·(Hu), at several shape bindings (size-1 axes
included)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from array_helpers import Built, bindings, concrete, sample, seed_of
from conftest import EXAMPLES
from oracles import assert_fd_close, fd_step, inner, magnitude
from test_arrays_generated import GALLERY

from codegen.evaluate import load_module
from codegen.generate import Options, compile_source, generate

#: example -> integer labels' bounds: the array gallery's
PROGRAMS = GALLERY

#: u·(Hv) and v·(Hu) are the same float computation up to summation order
SYMMETRY_RTOL = 1e-10


@functools.cache
def built(name: str) -> tuple[Built, bool]:
    source = (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8")
    compiled = compile_source(source, Options())
    (out,) = compiled.forward.outputs
    scalar = compiled.forward.types[out].rank == 0
    modes = ("jvp", "hvp") if scalar else ("jvp",)
    module = load_module(generate(source, Options(mode=modes)), f"modes_{name}")
    return Built(source, compile_source(source, Options(mode=modes)), module), scalar


def _moved(point, direction, h):
    out = dict(point)
    for name, t in direction.items():
        out[name] = point[name] + h * t
    return out


def _points(name: str):
    b, scalar = built(name)
    for bind in bindings(b.symbols()):
        rng = np.random.default_rng(seed_of("modes", name, sorted(bind.items())))
        point = sample(b, bind, rng, labels=PROGRAMS[name])
        direction = {
            n: rng.standard_normal(concrete(b.types[n].shape, bind)) for n in b.wrt
        }
        yield b, scalar, bind, point, direction, rng


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_jvp_is_the_directional_derivative(name: str) -> None:
    checked = 0
    for b, _, bind, point, direction, _ in _points(name):
        args = [point[n] for n in b.inputs]
        value, tangent = b.module.jvp(*args, *(direction[n] for n in b.wrt))
        np.testing.assert_allclose(value, b.forward(point), rtol=1e-15)
        largest = max(float(np.max(np.abs(point[n]))) for n in b.wrt)
        h = fd_step(largest)
        fd = (
            b.forward(_moved(point, direction, h))
            - b.forward(_moved(point, direction, -h))
        ) / (2 * h)
        assert np.shape(tangent) == np.shape(value)
        # the differenced terms are the output's entries: size = the largest |f|
        size = float(np.max(np.abs(value))) if np.size(value) else 0.0
        assert_fd_close(tangent, fd, size, f"{name} {bind}")
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name", sorted(n for n in PROGRAMS if built(n)[1]))
def test_hvp_is_the_gradient_differentiated_along_v(name: str) -> None:
    checked = 0
    for b, _, bind, point, direction, rng in _points(name):
        args = [point[n] for n in b.inputs]
        v = [direction[n] for n in b.wrt]
        value, grads, hv = b.module.hvp(*args, *v)
        _, want_grads = b.module.forward_backward(*args)
        for got, want in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        largest = max(float(np.max(np.abs(point[n]))) for n in b.wrt)
        h = fd_step(largest)
        up = b.forward_backward(_moved(point, direction, h))[1]
        down = b.forward_backward(_moved(point, direction, -h))[1]
        size = max(float(np.max(np.abs(g))) for g in grads)
        for k, name_k in enumerate(b.wrt):
            fd = (np.asarray(up[k]) - np.asarray(down[k])) / (2 * h)
            assert np.shape(hv[k]) == np.shape(point[name_k])
            assert_fd_close(hv[k], fd, size, f"{name} {bind} (Hv)[{name_k}]")
        # symmetry: u.(Hv) = v.(Hu) for another direction u
        u = [rng.standard_normal(np.shape(point[n])) for n in b.wrt]
        _, _, hu = b.module.hvp(*args, *u)
        left = sum(inner(a, c) for a, c in zip(u, hv, strict=True))
        right = sum(inner(a, c) for a, c in zip(v, hu, strict=True))
        scale = sum(magnitude(a, c) for a, c in zip(u, hv, strict=True))
        assert abs(left - right) <= SYMMETRY_RTOL * (1 + scale), (left, right)
        checked += 1
    assert checked >= 2
