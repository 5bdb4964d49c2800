"""Central finite differences: the oracle that ``--verify`` and the test suite share.

It knows functions of named inputs only (a *point* maps each input's name to a float
or an array), never the generator: what it checks is the generated code's own
``forward``.

* :func:`fd_step`: the one step rule; :func:`central_difference` for scalar arguments;
  :func:`fd_gradient` (and :func:`fd_vjp`, the vector-Jacobian product of array
  programs) one coordinate at a time; :func:`directional` along a direction.
* :func:`dot_product_sides`: the two sides of the dot-product test
  ``<J t, c> = <t, J^T c>``, ``J t`` by a central difference along ``t`` and ``J^T c``
  from a backward pass.
* :func:`fd_tolerance` (and :func:`fd_close`): what a central difference may differ
  from an exact derivative by.

Tolerances
----------

``FD_STEP`` = 1e-6, step ``h = FD_STEP * max(1, |x|)``:

* truncation error ~ h**2 * |f'''| / 6 ~ 1e-13 * |f'''| for inputs of order 1 (the
  step is relative beyond 1, so the same holds in units of ``x``); ``FD_RTOL`` = 1e-6
  covers |f''' / f'| up to ~6e6;
* rounding error ~ eps * M / h ~ 2.2e-10 * M, where M is the magnitude of the summed
  terms: ``|f|`` for a scalar program, ``sum |c * f|`` for ``<c, f(x)>``.
  ``FD_ATOL`` = 1e-9 per unit of ``1 + M`` gives that a factor of ~5 of headroom.

The relative part applies to the smaller of the two magnitudes compared.  Measured:
the largest error of any central-difference gradient in the test suite is 0.14 of
this tolerance, and 0.02 over 1500 hypothesis examples.

Domains: ``POSITIVE`` = [0.5, 2] keeps log/sqrt arguments and denominators away from
0; ``SYMMETRIC`` = [-2, 2] for functions defined everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-9

POSITIVE = (0.5, 2.0)
SYMMETRIC = (-2.0, 2.0)

#: a point: input name -> float, int or ndarray
Point = Mapping[str, object]


def fd_step(x: float) -> float:
    """The one step rule: relative to the coordinate beyond 1, absolute below."""
    return FD_STEP * max(1.0, abs(x))


def inner(a: object, b: object) -> float:
    """<a, b> summed over every element (both broadcast to a common shape)."""
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def magnitude(a: object, b: object) -> float:
    """sum |a * b|: the size of the terms of <a, b>, for the rounding error."""
    return float(
        np.sum(np.abs(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))
    )


def random_like(value: object, rng: np.random.Generator) -> object:
    """A standard normal float, or array shaped like ``value``."""
    if np.ndim(value) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(value))


def _with(point: Point, name: str, value: object) -> dict[str, object]:
    moved = dict(point)
    moved[name] = value
    return moved


def central_difference(
    fn: Callable[..., object], point: Sequence[float], index: int
) -> float:
    """d fn / d point[index] of a scalar function by central differences, divided by
    the step as actually represented in floats (``up - down``)."""
    h = fd_step(point[index])
    up = list(point)
    down = list(point)
    up[index] = point[index] + h
    down[index] = point[index] - h
    return (float(fn(*up)) - float(fn(*down))) / (up[index] - down[index])


def fd_gradient(
    objective: Callable[[Point], float], point: Point, name: str, scale: float = 1.0
) -> np.ndarray:
    """The gradient of the scalar ``objective`` with respect to every coordinate of
    ``point[name]``, by central differences with ``scale`` times :func:`fd_step` per
    coordinate, divided by the step as represented in floats."""
    value = point[name]
    scalar = np.ndim(value) == 0
    array = np.asarray(value, dtype=float)
    grad = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        x = float(array[index])
        h = scale * fd_step(x)
        up_x, down_x = x + h, x - h
        if scalar:
            up: object = up_x
            down: object = down_x
        else:
            up, down = array.copy(), array.copy()
            up[index] = up_x  # type: ignore[index]
            down[index] = down_x  # type: ignore[index]
        f_up = objective(_with(point, name, up))
        f_down = objective(_with(point, name, down))
        grad[index] = (f_up - f_down) / (up_x - down_x)
    return grad


def fd_gradient_at(
    objective: Callable[[Point], float],
    point: Point,
    name: str,
    picks: np.ndarray,
    scale: float = 1.0,
) -> np.ndarray:
    """:func:`fd_gradient` at the coordinates ``picks`` of ``point[name]`` only
    (indices into its raveled array), in that order."""
    array = np.asarray(point[name], dtype=float)
    grad = np.zeros(len(picks))
    for k, flat in enumerate(picks):
        index = np.unravel_index(int(flat), array.shape)
        x = float(array[index])
        h = scale * fd_step(x)
        up, down = array.copy(), array.copy()
        up[index], down[index] = x + h, x - h
        f_up = objective(_with(point, name, up))
        f_down = objective(_with(point, name, down))
        grad[k] = (f_up - f_down) / ((x + h) - (x - h))
    return grad


def fd_vjp(
    forward: Callable[[Point], object],
    point: Point,
    c: object,
    name: str,
    scale: float = 1.0,
) -> np.ndarray:
    """The gradient of <c, forward(point)> with respect to every coordinate of
    ``point[name]`` (:func:`fd_gradient`)."""
    return fd_gradient(lambda p: inner(c, forward(p)), point, name, scale)


def directional(
    fn: Callable[[Point], Sequence[object]],
    point: Point,
    direction: Mapping[str, object],
    scale: float = 1.0,
) -> list[np.ndarray]:
    """The derivative of each of ``fn``'s values along ``t`` (``direction``: a
    tangent per input moved), by one central difference with ``scale`` times the
    :func:`fd_step` of the largest coordinate moved."""
    largest = max(
        (
            float(np.max(np.abs(np.asarray(point[n], dtype=float)), initial=0.0))
            for n in direction
        ),
        default=0.0,
    )
    h = scale * fd_step(largest)

    def at(sign: float) -> list[np.ndarray]:
        moved = dict(point)
        for name, t in direction.items():
            shifted = np.asarray(point[name], dtype=float) + sign * h * np.asarray(
                t, dtype=float
            )
            moved[name] = float(shifted) if np.ndim(point[name]) == 0 else shifted
        return [np.asarray(v, dtype=float) for v in fn(moved)]

    up, down = at(1.0), at(-1.0)
    return [(u - d) / (2 * h) for u, d in zip(up, down, strict=True)]


def dot_product_sides(
    objective: Callable[[Point], float],
    point: Point,
    direction: Mapping[str, object],
    grads: Mapping[str, object],
    scale: float = 1.0,
) -> tuple[float, float]:
    """The two sides of the dot-product test for ``objective`` = <c, forward>:
    ``<J t, c>`` by a central difference along ``t`` (``direction``), and
    ``<t, J^T c>`` from ``grads`` (J^T c, one entry per input moved)."""
    (jt_c,) = directional(lambda p: [objective(p)], point, direction, scale)
    t_jtc = sum(inner(direction[n], g) for n, g in grads.items())
    return float(jt_c), t_jtc


def fd_tolerance(got: object, fd: object, size: object) -> np.ndarray:
    """What a central difference may differ from an exact derivative by: ``FD_RTOL``
    of the smaller of the two, plus ``FD_ATOL`` per unit of ``1 + size`` (the
    magnitude of the differenced terms; see the module docstring)."""
    smaller = np.minimum(np.abs(np.asarray(got, float)), np.abs(np.asarray(fd, float)))
    return FD_RTOL * smaller + FD_ATOL * (1.0 + np.asarray(size, dtype=float))


def fd_close(fd: float, exact: float, size: float) -> bool:
    """A scalar central difference agrees with a derivative; ``size`` is |f|."""
    return abs(fd - exact) <= float(fd_tolerance(exact, fd, abs(size)))


__all__ = [
    "FD_ATOL",
    "FD_RTOL",
    "FD_STEP",
    "POSITIVE",
    "SYMMETRIC",
    "Point",
    "central_difference",
    "directional",
    "dot_product_sides",
    "fd_close",
    "fd_gradient",
    "fd_step",
    "fd_tolerance",
    "fd_vjp",
    "inner",
    "magnitude",
    "random_like",
]
