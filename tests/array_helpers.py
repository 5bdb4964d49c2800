"""Helpers for the array (NumPy) backprop tests: build a program, sample inputs for a
shape binding, and run the oracles of ``tests/oracles.py`` at a point (central
differences of the vector-Jacobian product for a random upstream ``c``, and the
dot-product test)."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from oracles import POSITIVE, check_dot_product, check_vjp, random_like

from codegen.evaluate import load_module
from codegen.generate import Compiled, Options, compile_source, generate
from codegen.ir import Type

#: distinct sizes, so that a transposed or swapped axis cannot go unnoticed
GENERIC = {"N": 3, "D": 4, "M": 5, "C": 6, "H": 2, "K": 7}


@dataclass(frozen=True)
class Built:
    source: str
    compiled: Compiled
    module: ModuleType

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.compiled.forward.inputs

    @property
    def wrt(self) -> tuple[str, ...]:
        return self.compiled.wrt

    @property
    def types(self) -> Mapping[str, Type]:
        return self.compiled.forward.types

    @property
    def output(self) -> str:
        (out,) = self.compiled.forward.outputs
        return out

    def symbols(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in self.inputs:
            for dim in self.types[name].shape:
                if isinstance(dim, str):
                    seen.setdefault(dim, None)
        return list(seen)

    def forward(self, point: Mapping[str, object]):
        return self.module.forward(*(point[n] for n in self.inputs))

    def forward_backward(self, point: Mapping[str, object], upstream=None):
        args = [point[n] for n in self.inputs]
        if upstream is None:
            return self.module.forward_backward(*args)
        return self.module.forward_backward(*args, upstream)


@functools.cache
def build(source: str) -> Built:
    compiled = compile_source(source, Options())
    module = load_module(generate(source, Options()), "array_test_module")
    assert tuple(module.INPUTS) == compiled.forward.inputs
    assert tuple(module.WRT) == compiled.wrt
    return Built(source, compiled, module)


def built_from_module(source: str, module: ModuleType) -> Built:
    """A module from generated/ paired with the compiled program of its source."""
    compiled = compile_source(source, Options())
    assert tuple(module.INPUTS) == compiled.forward.inputs
    return Built(source, compiled, module)


def seed_of(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode())


def bindings(symbols: Iterable[str]) -> list[dict[str, int]]:
    """Generic sizes, every size 1, and each symbol alone set to 1."""
    symbols = list(symbols)
    generic = {s: GENERIC.get(s, 3) for s in symbols}
    out = [generic, {s: 1 for s in symbols}]
    for s in symbols:
        out.append({**generic, s: 1})
    unique: list[dict[str, int]] = []
    for b in out:
        if b not in unique:
            unique.append(b)
    return unique


def concrete(shape: tuple, bind: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else bind[d] for d in shape)


def sample(
    built: Built,
    bind: Mapping[str, int],
    rng: np.random.Generator,
    labels: Mapping[str, object] | None = None,
    positive: Iterable[str] = (),
) -> dict[str, object]:
    """Random inputs: float arrays ~ N(0, 1) (or in ``oracles.POSITIVE`` for the
    ``positive`` names), integer inputs uniform in [0, bound) with ``labels[name]`` the
    bound (a symbol or an int), float scalars as Python floats."""
    labels = labels or {}
    positive = set(positive)
    point: dict[str, object] = {}
    for name in built.inputs:
        t = built.types[name]
        shape = concrete(t.shape, bind)
        if t.dtype == "int":
            bound = labels[name]
            high = bind[bound] if isinstance(bound, str) else bound
            value = rng.integers(0, high, size=shape)
            point[name] = int(value) if shape == () else value
        elif name in positive:
            value = rng.uniform(*POSITIVE, size=shape)
            point[name] = float(value) if shape == () else value
        else:
            value = rng.standard_normal(shape)
            point[name] = float(value) if shape == () else value
    return point


def check_point(
    built: Built,
    point: Mapping[str, object],
    rng: np.random.Generator,
    bind: Mapping[str, int],
) -> None:
    """All the checks at one point: value and its declared shape, gradient shapes,
    finite differences of the VJP and the dot-product test (tests/oracles.py)."""
    frozen = {n: np.array(v, copy=True) for n, v in point.items()}
    value = built.forward(point)
    declared = concrete(built.types[built.output].shape, bind)
    shape_note = f"{built.output} has shape {np.shape(value)}, declared {declared}"
    assert np.shape(value) == declared, shape_note
    c = random_like(value, rng)
    got, grads = built.forward_backward(point, c)

    # the value: the same as forward's, with the declared output shape
    np.testing.assert_array_equal(np.asarray(got), np.asarray(value))
    # inputs are not modified
    for name, v in point.items():
        np.testing.assert_array_equal(np.asarray(v), frozen[name])

    # gradients: one per float input, named and shaped like it, finite floats
    assert grads._fields == built.wrt
    assert set(built.wrt) == {
        n for n in built.inputs if built.types[n].dtype == "float"
    }
    for name, g in zip(built.wrt, grads, strict=True):
        assert np.shape(g) == np.shape(point[name]), (name, np.shape(g))
        assert np.all(np.isfinite(g)), name
        assert np.asarray(g).dtype == np.float64, (name, np.asarray(g).dtype)

    named = dict(zip(built.wrt, grads, strict=True))
    check_vjp(built.forward, point, c, named)
    check_dot_product(built.forward, point, c, named, rng)


def check_program(
    built: Built,
    binds: Iterable[Mapping[str, int]],
    labels: Mapping[str, object] | None = None,
    positive: Iterable[str] = (),
    points: int = 1,
) -> int:
    """Run :func:`check_point` at ``points`` random points for every binding; return
    how many points were checked."""
    count = 0
    for bind in binds:
        rng = np.random.default_rng(seed_of(built.source, sorted(bind.items())))
        for _ in range(points):
            point = sample(built, bind, rng, labels, positive)
            check_point(built, point, rng, bind)
            count += 1
    return count
