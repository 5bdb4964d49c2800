"""The checks of ``--verify`` at one point: each function of a module against central
differences of its own ``forward`` (:mod:`codegen.oracles`), with the re-check at twice
the step that tells a wrong derivative from a stencil straddling a kink or a pole."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .oracles import (
    POSITIVE,
    SYMMETRIC,
    Point,
    directional,
    dot_product_sides,
    fd_gradient,
    fd_gradient_at,
    fd_tolerance,
    inner,
    magnitude,
    random_like,
)
from .verify_spec import Spec, one_line, size_of

SEED = 0
#: central differences per input checked by --verify; a larger input is checked at a
#: seeded sample of its coordinates (and every coordinate by the dot-product test)
MAX_COORDINATES = 256
#: tries at a finite forward before sampling positive values, and in all
DOMAIN_TRIES = (10, 30)

#: one check's result: (function, input or "(value)"/"(dot product)", outcome)
Result = tuple[str, str, "Outcome"]


@dataclass
class Outcome:
    abs_err: float
    rel_err: float
    ok: bool
    reliable: bool
    note: str = ""


class Unreliable(Exception):
    """The point has a check whose central difference is unreliable: redraw it."""


class Skip(Exception):
    """This binding cannot be used (forward fails, or an index range is empty)."""


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=float)


def _failed(note: str) -> Outcome:
    return Outcome(math.inf, math.inf, False, True, note)


def _compare(got: object, fd: Callable[[float], np.ndarray], size: object) -> Outcome:
    """``got`` against the central difference ``fd(1)`` (step scale 1); on a failure
    ``fd(2)`` decides whether the central difference was reliable."""
    try:
        exact = _array(got)
    except (TypeError, ValueError):
        return _failed(f"returned {type(got).__name__}")
    first = fd(1.0)
    if exact.shape != first.shape:
        return _failed(f"shape {exact.shape}, expected {first.shape}")
    if not np.all(np.isfinite(first)):
        return Outcome(0.0, 0.0, False, False)
    diff = np.abs(exact - first)
    ok_each = diff <= fd_tolerance(exact, first, size)  # nan compares False
    abs_err = float(np.max(diff, initial=0.0))
    # relative to the largest entry compared (normwise): a tiny entry's own ratio
    # says nothing when the tolerance is absolute there
    big = max(
        float(np.max(np.abs(exact), initial=0.0)),
        float(np.max(np.abs(first), initial=0.0)),
    )
    rel_err = abs_err / big if big > 0 else 0.0
    if np.isnan(abs_err) or not np.all(np.isfinite(exact)):
        abs_err = rel_err = math.inf
    if bool(np.all(ok_each)):
        return Outcome(abs_err, rel_err, True, True)
    second = fd(2.0)
    reliable = bool(np.all(np.abs(first - second) <= fd_tolerance(first, second, size)))
    return Outcome(abs_err, rel_err, False, reliable)


def _reliable(function: str, what: str, outcome: Outcome) -> Result:
    if not outcome.reliable:
        raise Unreliable
    return (function, what, outcome)


def _flat(values: Sequence[object]) -> np.ndarray:
    return np.concatenate([np.ravel(_array(v)) for v in values])


def _as_input(value: np.ndarray | float, scalar: bool) -> object:
    return float(value) if scalar else value  # type: ignore[arg-type]


class Checker:
    """The module's functions called on points, and the checks of each at a point
    (``_<function>``), drawing from one seeded generator."""

    def __init__(self, module: ModuleType, spec: Spec) -> None:
        self.module = module
        self.spec = spec
        self.rng = np.random.default_rng(SEED)

    # calls ------------------------------------------------------------------------

    def args(self, point: Point) -> list[object]:
        return [point[n] for n in self.spec.inputs]

    def forward(self, point: Point) -> list[object]:
        value = self.module.forward(*self.args(point))
        if self.spec.several:
            return list(value)
        return [value]

    def objective(self, point: Point, c: Sequence[object]) -> float:
        return sum(inner(ck, fk) for ck, fk in zip(c, self.forward(point), strict=True))

    def gradient(self, point: Point) -> list[np.ndarray]:
        """forward_backward's gradients (upstream 1) for hvp and hessian."""
        _, grads = self.module.forward_backward(*self.args(point))
        return [_array(g) for g in grads]

    # points -----------------------------------------------------------------------

    def draw(self, binding: Mapping[str, int]) -> Point:
        """A point where ``forward`` is finite: floats in ``SYMMETRIC`` (``POSITIVE``
        after ``DOMAIN_TRIES[0]`` tries), integers in the range they index."""
        spec = self.spec
        for attempt in range(DOMAIN_TRIES[1]):
            low, high = SYMMETRIC if attempt < DOMAIN_TRIES[0] else POSITIVE
            point: dict[str, object] = {}
            for name in spec.inputs:
                shape = tuple(size_of(d, binding) for d in spec.shapes[name])
                if name in spec.integers:
                    bounds = [size_of(d, binding) for d in spec.integers[name]]
                    bound = min(bounds) if bounds else 3
                    if bound <= 0:
                        raise Skip(f"'{name}' indexes an axis of size {bound}")
                    ints = self.rng.integers(0, bound, size=shape)
                    point[name] = int(ints) if not shape else ints
                else:
                    values = self.rng.uniform(low, high, size=shape)
                    point[name] = float(values) if not shape else values
            try:
                values = self.forward(point)
            except Exception as exc:
                raise Skip(f"forward raised {one_line(exc)}") from None
            if all(np.all(np.isfinite(_array(v))) for v in values):
                return point
        raise Skip("no point where forward is finite")

    # one point --------------------------------------------------------------------

    def check_point(self, point: Point) -> list[Result]:
        """Every function's checks at ``point``; a function that raises fails each of
        its rows with the exception as the note."""
        results: list[Result] = []
        for function in self.spec.functions:
            method = getattr(self, f"_{function}")
            try:
                results += method(point)
            except Unreliable:
                raise
            except Exception as exc:
                note = f"raised {one_line(exc)}"
                if len(note) > 100:
                    note = note[:96] + " ..."
                whats: tuple[str, ...] = self.spec.wrt
                if function == "forward_backward":
                    whats = ("(value)", *whats, *(("(dot product)",) if whats else ()))
                results += [(function, w, _failed(note)) for w in whats]
        return results

    def _direction(self, point: Point, name: str) -> dict[str, object]:
        return {
            n: (self.rng.standard_normal(np.shape(point[n])) if n == name else 0.0)
            for n in self.spec.wrt
        }

    def _tangents(self, point: Point, direction: Mapping[str, object]) -> list[object]:
        return [
            _as_input(
                np.broadcast_to(_array(direction[n]), np.shape(point[n])).copy(),
                np.ndim(point[n]) == 0,
            )
            for n in self.spec.wrt
        ]

    def _picks(self, value: object) -> np.ndarray | None:
        """The coordinates of an input checked by central differences: all of them,
        or a seeded sample of :data:`MAX_COORDINATES` for a larger array (the
        dot-product test still moves every coordinate, along a random direction)."""
        count = int(np.size(value))
        if count <= MAX_COORDINATES:
            return None
        return np.sort(self.rng.choice(count, MAX_COORDINATES, replace=False))

    def _forward_backward(self, point: Point) -> list[Result]:
        spec = self.spec
        values = self.forward(point)
        c = [random_like(v, self.rng) for v in values]
        value, grads = self.module.forward_backward(*self.args(point), *c)
        got_values = list(value) if spec.several else [value]
        ref = _flat(values)
        results = [
            (
                "forward_backward",
                "(value)",
                _compare(_flat(got_values), lambda s: ref, np.abs(ref)),
            )
        ]
        grads = list(grads)
        if len(grads) != len(spec.wrt):
            note = f"{len(grads)} gradients for {len(spec.wrt)} inputs in WRT"
            return results + [("forward_backward", n, _failed(note)) for n in spec.wrt]
        size = sum(magnitude(ck, fk) for ck, fk in zip(c, values, strict=True))

        def objective(p: Point) -> float:
            return self.objective(p, c)

        for name, g in zip(spec.wrt, grads, strict=True):
            picks = self._picks(point[name])
            if picks is None:
                outcome = _compare(
                    g, lambda s, n=name: fd_gradient(objective, point, n, s), size
                )
            elif np.shape(_array(g)) != np.shape(point[name]):
                outcome = _failed(
                    f"shape {np.shape(_array(g))}, expected {np.shape(point[name])}"
                )
            else:
                outcome = _compare(
                    np.ravel(_array(g))[picks],
                    lambda s, n=name, p=picks: fd_gradient_at(
                        objective, point, n, p, s
                    ),
                    size,
                )
            results.append(_reliable("forward_backward", name, outcome))
        if spec.wrt:  # the dot-product test along a random direction of every input
            direction = {n: random_like(point[n], self.rng) for n in spec.wrt}
            by_name = dict(zip(spec.wrt, grads, strict=True))
            jt_c, t_jtc = dot_product_sides(objective, point, direction, by_name)

            def jt_c_at(s: float) -> np.ndarray:
                if s == 1.0:
                    return _array(jt_c)
                return _array(
                    dot_product_sides(objective, point, direction, by_name, s)[0]
                )

            outcome = _compare(t_jtc, jt_c_at, size)
            results.append(_reliable("forward_backward", "(dot product)", outcome))
        return results

    def _jvp(self, point: Point) -> list[Result]:
        results = []
        for name in self.spec.wrt:
            direction = self._direction(point, name)
            value, tangent = self.module.jvp(
                *self.args(point), *self._tangents(point, direction)
            )
            tangents = list(tangent) if self.spec.several else [tangent]
            sizes = [np.abs(_array(v)) for v in self.forward(point)]
            outcome = _compare(
                _flat(tangents),
                lambda s, d=direction: _flat(directional(self.forward, point, d, s)),
                _flat(sizes),
            )
            results.append(_reliable("jvp", name, outcome))
        return results

    def _jacobian(self, point: Point) -> list[Result]:
        _, jac = self.module.jacobian(*self.args(point))
        matrix = _array(jac)
        results = []
        for j, name in enumerate(self.spec.wrt):
            sizes = np.abs(np.ravel([_array(v) for v in self.forward(point)]))
            outcome = _compare(
                matrix[:, j] if matrix.ndim >= 2 else matrix,
                lambda s, n=name: np.ravel(
                    list(directional(self.forward, point, {n: 1.0}, s))
                ),
                sizes,
            )
            results.append(_reliable("jacobian", name, outcome))
        return results

    def _second(
        self, point: Point, direction: Mapping[str, object]
    ) -> tuple[Callable[[float], np.ndarray], np.ndarray]:
        """Central differences of the gradient along ``direction``, and their size."""
        size = _flat([np.abs(g) for g in self.gradient(point)])
        return (lambda s: _flat(directional(self.gradient, point, direction, s))), size

    def _hvp(self, point: Point) -> list[Result]:
        results = []
        for name in self.spec.wrt:
            direction = self._direction(point, name)
            _, _, hv = self.module.hvp(
                *self.args(point), *self._tangents(point, direction)
            )
            fd, size = self._second(point, direction)
            results.append(_reliable("hvp", name, _compare(_flat(hv), fd, size)))
        return results

    def _hessian(self, point: Point) -> list[Result]:
        _, _, hessian = self.module.hessian(*self.args(point))
        matrix = _array(hessian)
        results = []
        for j, name in enumerate(self.spec.wrt):
            fd, size = self._second(point, {name: 1.0})
            column = matrix[:, j] if matrix.ndim >= 2 else matrix
            results.append(
                _reliable("hessian", name, _compare(np.ravel(column), fd, size))
            )
        return results
