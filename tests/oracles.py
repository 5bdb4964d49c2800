"""The test oracles of backpropgen: every test that checks a gradient checks it with
these.

* Central finite differences of the generated ``forward`` (:mod:`codegen.oracles`,
  which ``--verify`` uses too; its docstring derives the step and the tolerances):
  :func:`central_difference` for scalar arguments, :func:`fd_vjp` for the
  vector-Jacobian product of array programs, :func:`check_vjp` and
  :func:`assert_fd_close` to assert agreement.
* The seeded dot-product test ``<J t, c> = <t, J^T c>`` (:func:`check_dot_product`):
  ``J t`` by a central difference along a random direction ``t``, ``J^T c`` from the
  generated backward pass.
* SymPy: :func:`oracle` is ``sympy.diff`` of a program's meaning
  (:func:`codegen.primitives.to_sympy`), evaluated at a point with 30 significant
  digits (:func:`sympy_at`).
* mpmath: values and derivatives at extreme arguments, correctly rounded.

The finite-difference names (``FD_STEP``, ``fd_step``, ``POSITIVE``, ...) are
:mod:`codegen.oracles`'s, imported here so that the tests read every oracle from this
module.

Tolerances (each stated once, here or in :mod:`codegen.oracles`)
-----------------------------------------------------------------

Against SymPy the generated code is exact math up to float round-off, while the oracle
is evaluated with 30 digits: ``SYMPY_RTOL`` = 1e-8 and ``SYMPY_ATOL`` = 1e-10 allow
the round-off of a chain of n float operations with condition number cond (relative
error ~ n * eps * cond) up to n * cond ~ 4e7, and no error in the math.  Two symbolic
expressions of the same function, both evaluated with 30 digits, agree to ~1 ulp once
rounded to float: ``SYMBOLIC_RTOL`` = 1e-12 and ``SYMBOLIC_ATOL`` = 1e-13 are generous
for that.

Domains: ``POSITIVE`` = [0.5, 2] (in ``sample_point`` the default) and ``SYMMETRIC`` =
[-2, 2], from :mod:`codegen.oracles`.  Sample points stay ``KINK_MARGIN`` = 1e-3 away
from the kinks of relu/abs/max/min: 1000 steps h for inputs of order 1, so a central
difference does not straddle one.  (tests/test_rules.py keeps its own per-primitive
domain table: the rule checks are symbolic, with no step to keep away from a kink.)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import sympy

from codegen.generate import Options, compile_source
from codegen.ir import Op, Program
from codegen.oracles import (
    FD_ATOL,
    FD_RTOL,
    FD_STEP,
    POSITIVE,
    SYMMETRIC,
    Point,
    central_difference,
    dot_product_sides,
    fd_close,
    fd_step,
    fd_tolerance,
    fd_vjp,
    inner,
    magnitude,
    random_like,
)
from codegen.primitives import KINKED
from codegen.symbolic import expr_to_sympy, to_sympy

SYMPY_RTOL = 1e-8
SYMPY_ATOL = 1e-10
SYMPY_DIGITS = 30

SYMBOLIC_RTOL = 1e-12
SYMBOLIC_ATOL = 1e-13

KINK_MARGIN = 1e-3


# --- central differences --------------------------------------------------------------


def assert_fd_close(got: object, fd: object, size: float, what: str = "") -> None:
    """Elementwise :func:`fd_close` for arrays, with NumPy's report on failure."""
    got = np.asarray(got, dtype=float)
    fd = np.asarray(fd, dtype=float)
    assert got.shape == fd.shape, (what, got.shape, fd.shape)
    tolerance = fd_tolerance(got, fd, size)
    bad = ~(np.abs(got - fd) <= tolerance)  # a nan is bad too
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.size} beyond tolerance, first at "
            f"{index}: exact {got[index]!r}, central difference {fd[index]!r}, "
            f"tolerance {float(np.broadcast_to(tolerance, got.shape)[index])!r}"
        )


def check_vjp(
    forward: Callable[[Point], object],
    point: Point,
    c: object,
    grads: Mapping[str, object],
) -> None:
    """Every gradient ``grads[name]`` (of <c, forward>) agrees with :func:`fd_vjp`."""
    size = magnitude(c, forward(point))
    for name, g in grads.items():
        fd = fd_vjp(forward, point, c, name)
        assert_fd_close(g, fd, size, f"d{name}: VJP vs central differences")


def check_dot_product(
    forward: Callable[[Point], object],
    point: Point,
    c: object,
    grads: Mapping[str, object],
    rng: np.random.Generator,
) -> None:
    """The dot-product test <J t, c> = <t, J^T c> for a random direction ``t`` drawn
    from the (seeded) ``rng``: ``grads`` is J^T c, one entry per input moved."""
    direction = {name: random_like(point[name], rng) for name in grads}
    jt_c, t_jtc = dot_product_sides(
        lambda p: inner(c, forward(p)), point, direction, grads
    )
    scale = sum(magnitude(direction[n], g) for n, g in grads.items())
    atol = FD_ATOL * (1.0 + magnitude(c, forward(point)))
    assert abs(jt_c - t_jtc) <= FD_RTOL * scale + atol, (jt_c, t_jtc)


# --- SymPy ----------------------------------------------------------------------------


def sympy_at(expr: sympy.Expr, subs: Mapping[sympy.Symbol, float]) -> float:
    """``expr`` evaluated at the point with ``SYMPY_DIGITS`` digits, as a float."""
    point = {s: sympy.Float(v, SYMPY_DIGITS) for s, v in subs.items()}
    try:
        return float(sympy.N(expr, SYMPY_DIGITS, subs=point))
    except ValueError:
        # evalf of Max/Min refuses an argument that cancels to a zero without
        # digits ("0.e-165 is not comparable"): substitute the point exactly (a
        # float is a dyadic rational) and evaluate that instead
        exact = {s: sympy.Rational(v) for s, v in subs.items()}
        return float(sympy.N(expr.subs(exact), SYMPY_DIGITS))


def sympy_close(got: float, want: float) -> bool:
    """Generated code (float round-off) vs the SymPy oracle (30 digits)."""
    return abs(got - want) <= SYMPY_RTOL * abs(want) + SYMPY_ATOL


def symbolic_close(got: float, want: float) -> bool:
    """Two symbolic expressions of the same function, both from :func:`sympy_at`."""
    return abs(got - want) <= SYMBOLIC_RTOL * abs(want) + SYMBOLIC_ATOL


@dataclass(frozen=True)
class Oracle:
    """The forward program of a source and its SymPy value and gradients."""

    forward: Program
    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    symbols: dict[str, sympy.Symbol]
    value: sympy.Expr
    grads: tuple[sympy.Expr, ...]

    def subs(self, point: Mapping[str, float]) -> dict[sympy.Symbol, float]:
        return {self.symbols[n]: point[n] for n in self.inputs}

    def evaluate(self, point: Mapping[str, float]) -> tuple[float, tuple[float, ...]]:
        subs = self.subs(point)
        value = sympy_at(self.value, subs)
        grads = tuple(sympy_at(g, subs) for g in self.grads)
        return value, grads

    def kink_distance(self, point: Mapping[str, float]) -> float:
        """How close the point is to a kink of relu/abs/max/min anywhere in the program
        (``inf`` if the program has none)."""
        env: dict[str, sympy.Expr] = {
            n: sympy.Float(point[n], SYMPY_DIGITS) for n in self.inputs
        }
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
    default: tuple[float, float] = POSITIVE,
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
    return tuple(float(g) for g in grads)  # type: ignore[arg-type]


def check_module_against_oracles(
    module: ModuleType, orc: Oracle, points: Sequence[Mapping[str, float]]
) -> None:
    """A generated scalar module agrees with SymPy and with central differences at
    every point: its value (from ``forward`` and ``forward_backward``) and each
    gradient."""
    assert tuple(module.INPUTS) == orc.inputs
    assert tuple(module.WRT) == orc.wrt
    for point in points:
        args = [point[n] for n in orc.inputs]
        value, grads = module.forward_backward(*args)
        want_value, want_grads = orc.evaluate(point)
        got_grads = grads_tuple(grads)
        assert len(got_grads) == len(orc.wrt)
        assert sympy_close(float(value), want_value), (point, value, want_value)
        assert sympy_close(float(module.forward(*args)), want_value), point
        for name, got, want in zip(orc.wrt, got_grads, want_grads, strict=True):
            assert sympy_close(got, want), (point, name, got, want)
            fd = central_difference(module.forward, args, orc.inputs.index(name))
            assert fd_close(fd, got, want_value), (point, name, got, fd)


# --- mpmath: values and derivatives at extreme arguments --------------------------------

#: digits mpmath works with: far more than float64's 16, and enough for differences of
#: values near -1 (expm1(-700) = -1 + 1e-304) to keep their digits, so its answers
#: rounded to floats are the correctly rounded ones
MPMATH_DIGITS = 1000
#: relative error allowed against mpmath (correctly rounded): a few libm calls on an
#: exact input each err by under an ulp, so 8 ulp (8 * 2**-52) bounds what a stable
#: formula gives; a cancelling formula errs by orders of magnitude more
MPMATH_RTOL = 8 * 2.0**-52


def mpmath_value_and_grads(
    fn: Callable[..., object], point: Sequence[float]
) -> tuple[float, tuple[float, ...]]:
    """``fn`` (written with mpmath functions) and its partial derivatives at ``point``
    (numerical differentiation at MPMATH_DIGITS digits), each rounded to a float."""
    import mpmath

    with mpmath.workdps(MPMATH_DIGITS):
        args = [mpmath.mpf(v) for v in point]
        value = fn(*args)
        grads = []
        for k in range(len(args)):
            orders = tuple(int(j == k) for j in range(len(args)))
            grads.append(float(mpmath.diff(fn, args, orders)))
        return float(value), tuple(grads)


def mpmath_close(got: float, want: float, scale: float = 1.0) -> bool:
    """Within ``scale * MPMATH_RTOL`` of the correctly rounded ``want`` (relative; a
    result that underflows is compared with the smallest normal float instead)."""
    if math.isinf(want):
        return got == want
    return abs(got - want) <= scale * MPMATH_RTOL * max(
        abs(want), 2.2250738585072014e-308
    )


__all__ = [
    "FD_ATOL",
    "FD_RTOL",
    "FD_STEP",
    "KINK_MARGIN",
    "KINKED",
    "MPMATH_DIGITS",
    "MPMATH_RTOL",
    "POSITIVE",
    "SYMBOLIC_ATOL",
    "SYMBOLIC_RTOL",
    "SYMMETRIC",
    "SYMPY_ATOL",
    "SYMPY_DIGITS",
    "SYMPY_RTOL",
    "Oracle",
    "Point",
    "assert_fd_close",
    "central_difference",
    "check_dot_product",
    "check_module_against_oracles",
    "check_vjp",
    "fd_close",
    "fd_step",
    "fd_tolerance",
    "fd_vjp",
    "grads_tuple",
    "inner",
    "magnitude",
    "mpmath_close",
    "mpmath_value_and_grads",
    "oracle",
    "random_like",
    "sample_point",
    "symbolic_close",
    "sympy_at",
    "sympy_close",
]
