"""Shared helpers for the backpropgen tests: one place for loaders and oracles.

The oracles are SymPy (``sympy.diff`` of :func:`codegen.primitives.to_sympy`), central
finite differences of the generated ``forward`` and the lecture's published numbers.
Test modules import the helpers with ``from conftest import ...`` (pytest puts this
folder on ``sys.path``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import sympy

from codegen.evaluate import load_module
from codegen.generate import Options, compile_source, generate
from codegen.ir import Op, Program
from codegen.primitives import expr_to_sympy, to_sympy

REPO = Path(__file__).resolve().parent.parent
GENERATED = REPO / "generated"
EXAMPLES = REPO / "examples"
BACKENDS: tuple[str, ...] = ("numpy", "math")

#: central differences: step relative to the coordinate, and the honest tolerance for
#: h = 1e-6 (truncation ~ h**2 * f''' ~ 1e-12, rounding ~ eps * |f| / h ~ 2e-10 * |f|)
FD_STEP = 1e-6
FD_RTOL = 1e-5
FD_ATOL_PER_VALUE = 1e-7

#: generated gradients vs the SymPy oracle (both exact math, float round-off only)
SYMPY_RTOL = 1e-8
SYMPY_ATOL = 1e-10

#: how far from a kink (relu/abs at 0, max/min ties) a sample point must stay
KINK_MARGIN = 1e-3

KINKED = frozenset({"relu", "abs", "max", "min"})


def options(
    backend: str = "numpy",
    wrt: Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
    format: str = "auto",
) -> Options:
    return Options(
        backend=backend,
        wrt=None if wrt is None else tuple(wrt),
        inputs=None if inputs is None else tuple(inputs),
        format=format,
    )


def load(source: str, opts: Options | None = None) -> ModuleType:
    """Generate the module for ``source`` and import it from its text."""
    return load_module(generate(source, opts or Options()))


def load_generated(name: str) -> ModuleType:
    """A checked-in module of ``generated/``, loaded from its file."""
    return load_module((GENERATED / f"{name}.py").read_text(encoding="utf-8"), name)


def central_difference(
    fn: Callable[..., float], point: Sequence[float], index: int, step: float = FD_STEP
) -> float:
    """d fn / d point[index] by central differences with a relative step."""
    h = step * max(1.0, abs(point[index]))
    up = list(point)
    down = list(point)
    up[index] = point[index] + h
    down[index] = point[index] - h
    return (float(fn(*up)) - float(fn(*down))) / (up[index] - down[index])


def fd_close(fd: float, exact: float, value: float) -> bool:
    """Central differences vs a gradient, with the tolerance explained at FD_STEP."""
    return abs(fd - exact) <= FD_RTOL * abs(exact) + FD_ATOL_PER_VALUE * (
        1.0 + abs(value)
    )


def sympy_close(got: float, want: float) -> bool:
    return abs(got - want) <= SYMPY_RTOL * abs(want) + SYMPY_ATOL


@dataclass(frozen=True)
class Oracle:
    """The forward program of a source and its SymPy value and gradients."""

    forward: Program
    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    symbols: dict[str, sympy.Symbol]
    value: sympy.Expr
    grads: tuple[sympy.Expr, ...]

    def subs(self, point: Mapping[str, float]) -> dict[sympy.Symbol, sympy.Float]:
        return {self.symbols[n]: sympy.Float(point[n], 30) for n in self.inputs}

    def evaluate(self, point: Mapping[str, float]) -> tuple[float, tuple[float, ...]]:
        subs = self.subs(point)
        value = float(sympy.N(self.value, 30, subs=subs))
        grads = tuple(float(sympy.N(g, 30, subs=subs)) for g in self.grads)
        return value, grads

    def kink_distance(self, point: Mapping[str, float]) -> float:
        """How close the point is to a kink of relu/abs/max/min anywhere in the program
        (``inf`` if the program has none)."""
        env: dict[str, sympy.Expr] = {n: sympy.Float(point[n], 30) for n in self.inputs}
        distance = math.inf
        for stmt in self.forward.stmts:
            expr = stmt.expr
            if isinstance(expr, Op) and expr.prim in KINKED:
                args = [float(expr_to_sympy(a, env)) for a in expr.args]
                if expr.prim in ("relu", "abs"):
                    distance = min(distance, abs(args[0]))
                else:
                    distance = min(
                        distance,
                        *(
                            abs(a - b)
                            for i, a in enumerate(args)
                            for b in args[i + 1 :]
                        ),
                    )
            env[stmt.target] = expr_to_sympy(expr, env)
        return distance


def oracle(source: str, opts: Options | None = None) -> Oracle:
    """``sympy.diff`` of the program's meaning, for the inputs in ``opts.wrt``."""
    compiled = compile_source(source, opts or Options())
    forward = compiled.forward
    env = to_sympy(forward)
    symbols = {name: env[name] for name in forward.inputs}
    (output,) = forward.outputs
    value = env[output]
    grads = tuple(sympy.diff(value, symbols[name]) for name in compiled.wrt)
    return Oracle(forward, forward.inputs, compiled.wrt, symbols, value, grads)


def sample_point(
    rng: random.Random,
    orc: Oracle,
    domains: Mapping[str, tuple[float, float]] | None = None,
    default: tuple[float, float] = (0.5, 2.0),
    tries: int = 200,
) -> dict[str, float]:
    """A random point in the domains (per input), at least KINK_MARGIN from kinks."""
    domains = domains or {}
    for _ in range(tries):
        point = {n: rng.uniform(*domains.get(n, default)) for n in orc.inputs}
        if orc.kink_distance(point) > KINK_MARGIN:
            return point
    raise AssertionError(f"no point away from kinks after {tries} tries")


def grads_tuple(grads: Iterable[object]) -> tuple[float, ...]:
    return tuple(float(g) for g in grads)


def check_against_oracles(
    source: str, opts: Options, points: Sequence[Mapping[str, float]]
) -> None:
    """The generated module agrees with SymPy and with central differences."""
    orc = oracle(source, opts)
    module = load(source, opts)
    assert tuple(module.INPUTS) == orc.inputs
    assert tuple(module.WRT) == orc.wrt
    for point in points:
        args = [point[n] for n in orc.inputs]
        value, grads = module.forward_backward(*args)
        want_value, want_grads = orc.evaluate(point)
        grads = grads_tuple(grads)
        assert len(grads) == len(orc.wrt)
        assert sympy_close(float(value), want_value), (source, point, value)
        assert sympy_close(float(module.forward(*args)), want_value)
        for name, got, want in zip(orc.wrt, grads, want_grads, strict=True):
            assert sympy_close(got, want), (source, point, name, got, want)
            fd = central_difference(module.forward, args, orc.inputs.index(name))
            assert fd_close(fd, got, want_value), (source, point, name, got, fd)


def split_statements(text: str, function: str) -> tuple[list[str], list[str]]:
    """The forward and backward lines of ``function`` in a generated module, without
    comments or blank lines (the lines between ``# forward``/``# backward`` markers)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"def {function}("))
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        body.append(line.strip())
    forward: list[str] = []
    backward: list[str] = []
    current = forward
    for line in body:
        if line == "# backward":
            current = backward
        if not line or line.startswith("#") or line.startswith('"""'):
            continue
        if line.startswith("return "):
            break
        current.append(line)
    return forward, backward


def as_array(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)
