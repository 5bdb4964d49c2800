"""``--verify``: check a generated module's functions against central differences of
its own ``forward``, at seeded random points.

Only the module's constants and functions are read, never its header text:
``INPUTS``, ``WRT``, ``OUTPUT``/``OUTPUTS``, ``SHAPES`` (every input's shape, symbol
strings or integers), ``INTEGERS`` (integer inputs and the sizes they index) and the
functions ``forward``, ``forward_backward`` and, when present, ``jvp``, ``hvp``,
``hessian`` and ``jacobian``.

What is compared (one row per function and input; errors are the largest over every
binding and point):

* ``forward_backward``: the gradient of ``<c, forward>`` for a random upstream ``c``
  against central differences, one coordinate at a time, of every input in ``WRT``;
  the value against ``forward``; and the dot-product test ``<J t, c> = <t, J^T c>``
  along a random direction ``t``;
* ``jvp``: the tangents for a random tangent of one input (the others 0) against a
  central difference of ``forward`` along it;
* ``jacobian``: each column against central differences of ``forward``;
* ``hvp`` and ``hessian``: ``H·v`` along one input and each column ``H[:, j]``
  against central differences of the gradient ``forward_backward`` returns (itself
  checked against ``forward`` in its own rows): a second difference of ``forward``
  would need a step of ~1e-4 and a tolerance a thousand times looser.

Sizes: each shape symbol is bound to a small size, several ways: distinct sizes
(3, 4, 5, ...), every symbol 1, and each symbol 1 in turn, so broadcasting and
transposes are exercised.  A binding where ``forward`` itself fails (a slice longer
than the size) is skipped and reported.

Points: floats uniform in [-2, 2], integer inputs uniform in ``range(size)`` of the
smallest axis they index (``range(3)`` if they index none).  Domains: a point where
``forward`` is not finite (log or sqrt of a negative number) is redrawn, from [0.5, 2]
after 10 tries.  Kinks (relu/abs at 0, ties of max/min, a ``where`` condition flipping)
and domain edges: a point drawn from a continuous distribution lies within a
difference step of one with probability ~1e-6 per kinked element; where a check fails
at a point, the central difference there is recomputed with twice the step, and if the
two disagree beyond the tolerance the central difference is unreliable there (the
stencil straddles a kink or a pole) and the point is redrawn (at most 5 times; if no
reliable point is found the check fails).  This uses ``forward`` alone, so it can never
excuse a wrong backward pass at a point where ``forward`` is smooth.

Tolerances (the test oracles', tests/oracles.py, where they are derived): step
``h = 1e-6 * max(1, |x|)``, and ``|exact - central difference| <= 1e-6 * min(|exact|,
|central difference|) + 1e-9 * (1 + M)``, ``M`` the magnitude of the differenced terms
(``sum |c * f|`` for ``<c, f>``).
"""

from __future__ import annotations

import ast
import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from codegen.errors import BackpropgenError

FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-9
SYMMETRIC = (-2.0, 2.0)
POSITIVE = (0.5, 2.0)
SEED = 0
#: tries at a finite forward before sampling positive values, and in all
DOMAIN_TRIES = (10, 30)
#: redraws of a point where the central difference is unreliable
MAX_REDRAWS = 5
#: generic sizes, in order of the symbols' first appearance
GENERIC_SIZES = (3, 4, 5, 6, 7, 8, 9, 10)
POINTS_SCALAR = 5  # points for a module without shape symbols
POINTS_PER_BINDING = 2
MAX_BINDINGS = 8
FUNCTIONS = ("forward_backward", "jvp", "hvp", "hessian", "jacobian")

Point = dict[str, object]


class VerifyError(BackpropgenError):
    """The module cannot be verified (not a backpropgen module, fails to import, no
    shapes): one line, exit status 2."""


# --- loading -------------------------------------------------------------------------


def load_file(path: Path, where: str) -> ModuleType:
    """Import the module at ``path`` (running its code: the user asked for it)."""
    if not path.is_file():
        raise VerifyError("no such file", where)
    name = f"_backpropgen_verify_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise VerifyError("not a Python module (name it MODULE.py)", where)
    module = importlib.util.module_from_spec(spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
    except Exception as exc:  # any failure of the user's module is reported, one line
        raise VerifyError(f"fails to import: {_one_line(exc)}", where) from None
    return module


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(frozen=True)
class Spec:
    """What verifying needs from a module, read from its constants."""

    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    outputs: tuple[str, ...]
    several: bool  # OUTPUTS: forward returns a tuple
    shapes: Mapping[str, tuple[int | str, ...]]
    integers: Mapping[str, tuple[int | str, ...]]
    functions: tuple[str, ...]

    @property
    def symbols(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in self.inputs:
            for dim in self.shapes[name]:
                if isinstance(dim, str):
                    for symbol in _symbols_in(dim):
                        seen.setdefault(symbol)
        for dims in self.integers.values():
            for dim in dims:
                if isinstance(dim, str):
                    for symbol in _symbols_in(dim):
                        seen.setdefault(symbol)
        return list(seen)


def _names(value: object) -> tuple[str, ...] | None:
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def read_spec(module: ModuleType, where: str) -> Spec:
    """The module's constants, checked: a module that lacks one is one error."""
    inputs = _names(getattr(module, "INPUTS", None))
    wrt = _names(getattr(module, "WRT", None))
    several = hasattr(module, "OUTPUTS")
    outputs = (
        _names(module.OUTPUTS)
        if several
        else (
            (module.OUTPUT,)
            if isinstance(getattr(module, "OUTPUT", None), str)
            else None
        )
    )
    missing = [
        what
        for what, ok in (
            ("INPUTS", inputs is not None),
            ("WRT", wrt is not None),
            ("OUTPUT", outputs is not None),
            ("forward", callable(getattr(module, "forward", None))),
            ("forward_backward", callable(getattr(module, "forward_backward", None))),
        )
        if not ok
    ]
    if missing:
        raise VerifyError(
            f"not a backpropgen module: no {missing[0]} (generate one with backpropgen)",
            where,
        )
    assert inputs is not None and wrt is not None and outputs is not None
    shapes = getattr(module, "SHAPES", None)
    if not isinstance(shapes, Mapping):
        raise VerifyError(
            "has no SHAPES (the input shapes --verify needs); regenerate it with this "
            "backpropgen",
            where,
        )
    for name in inputs:
        if name not in shapes:
            raise VerifyError(f"SHAPES has no entry for input '{name}'", where)
        shape = shapes[name]
        if not isinstance(shape, tuple) or not all(_dim_ok(d) for d in shape):
            raise VerifyError(
                f"SHAPES['{name}'] is not a tuple of sizes and symbols: {shape!r}",
                where,
            )
    integers = getattr(module, "INTEGERS", {})
    if not isinstance(integers, Mapping) or not all(
        isinstance(v, tuple) and all(_dim_ok(d) for d in v) for v in integers.values()
    ):
        raise VerifyError("INTEGERS is not a mapping of names to sizes", where)
    for name in wrt:
        if name not in inputs or name in integers:
            raise VerifyError(f"WRT names '{name}', not a float input", where)
    functions = tuple(f for f in FUNCTIONS if callable(getattr(module, f, None)))
    return Spec(inputs, wrt, outputs, several, dict(shapes), dict(integers), functions)


def _dim_ok(dim: object) -> bool:
    if isinstance(dim, bool):
        return False
    if isinstance(dim, int):
        return dim >= 0
    if isinstance(dim, str):
        try:
            _symbols_in(dim)
        except ValueError:
            return False
        return True
    return False


def _symbols_in(text: str) -> list[str]:
    """The symbols of a size: a name, or a sum/difference/product of names and
    integers (``N-1``); anything else is a ValueError (never evaluated)."""
    tree = ast.parse(text, mode="eval").body
    names: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult
        ):
            stack += [node.right, node.left]
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            pass
        else:
            raise ValueError(text)
    return names


def _size(dim: int | str, binding: Mapping[str, int]) -> int:
    if isinstance(dim, int):
        return dim

    def value(node: ast.expr) -> int:
        if isinstance(node, ast.Name):
            return binding[node.id]
        if isinstance(node, ast.Constant):
            return int(node.value)
        assert isinstance(node, ast.BinOp)
        a, b = value(node.left), value(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        return a * b

    return value(ast.parse(dim, mode="eval").body)


def bindings(symbols: Sequence[str]) -> list[dict[str, int]]:
    """Sizes for the symbols: distinct sizes, all 1, and each symbol 1 in turn."""
    if not symbols:
        return [{}]
    generic = {s: GENERIC_SIZES[i % len(GENERIC_SIZES)] for i, s in enumerate(symbols)}
    found = [generic, {s: 1 for s in symbols}]
    if len(symbols) > 1:
        found += [{**generic, s: 1} for s in symbols]
    return found[:MAX_BINDINGS]


def show_binding(binding: Mapping[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in binding.items()) or "-"


# --- results -------------------------------------------------------------------------


@dataclass
class Row:
    function: str
    what: str
    abs_err: float = 0.0
    rel_err: float = 0.0
    passed: bool = True
    checked: int = 0
    note: str = ""

    def fail(self, note: str) -> None:
        self.passed = False
        if not self.note:
            self.note = note


@dataclass
class Report:
    where: str
    rows: dict[tuple[str, str], Row] = field(default_factory=dict)
    bindings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    points: int = 0

    def row(self, function: str, what: str) -> Row:
        key = (function, what)
        if key not in self.rows:
            self.rows[key] = Row(function, what)
        return self.rows[key]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows.values())

    def text(self) -> str:
        lines = [
            f"verify {self.where}: {len(self.bindings)} binding(s) of the sizes "
            f"({'; '.join(self.bindings)}), {self.points} point(s) in all, seed {SEED}",
            f"tolerance: |exact - central difference| <= {FD_RTOL:g} * min(|exact|, "
            f"|central difference|) + {FD_ATOL:g} * (1 + M); step h = {FD_STEP:g} * "
            "max(1, |x|); M = sum |c * f| of the differenced terms",
        ]
        lines += [f"skipped {s}" for s in self.skipped]
        table = [("function", "input", "max abs err", "max rel err", "result")]
        for r in self.rows.values():
            result = "PASS" if r.passed else "FAIL"
            if r.note:
                result += f"  ({r.note})"
            table.append(
                (r.function, r.what, f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", result)
            )
        widths = [max(len(t[i]) for t in table) for i in range(4)]
        for entry in table:
            cells = [entry[i].ljust(widths[i]) for i in range(4)] + [entry[4]]
            lines.append("  ".join(cells).rstrip())
        failed = [r for r in self.rows.values() if not r.passed]
        if failed:
            names = ", ".join(f"{r.function} {r.what}" for r in failed)
            lines.append(f"FAIL: {len(failed)} of {len(self.rows)} check(s): {names}")
        else:
            lines.append(f"PASS: all {len(self.rows)} check(s)")
        return "\n".join(lines) + "\n"


@dataclass
class _Outcome:
    abs_err: float
    rel_err: float
    ok: bool
    reliable: bool
    note: str = ""


class _Unreliable(Exception):
    """The point has a check whose central difference is unreliable: redraw it."""


# --- numbers -------------------------------------------------------------------------


def _step(x: float) -> float:
    return FD_STEP * max(1.0, abs(x))


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=float)


def _tolerance(a: np.ndarray, b: np.ndarray, size: object) -> np.ndarray:
    return FD_RTOL * np.minimum(np.abs(a), np.abs(b)) + FD_ATOL * (1.0 + _array(size))


def _compare(got: object, fd: Callable[[float], np.ndarray], size: object) -> _Outcome:
    """``got`` against the central difference ``fd(1)`` (step scale 1); on a failure
    ``fd(2)`` decides whether the central difference was reliable."""
    try:
        exact = _array(got)
    except (TypeError, ValueError):
        return _Outcome(
            math.inf, math.inf, False, True, f"returned {type(got).__name__}"
        )
    first = fd(1.0)
    if exact.shape != first.shape:
        return _Outcome(
            math.inf,
            math.inf,
            False,
            True,
            f"shape {exact.shape}, expected {first.shape}",
        )
    if not np.all(np.isfinite(first)):
        return _Outcome(0.0, 0.0, False, False)
    diff = np.abs(exact - first)
    ok_each = diff <= _tolerance(exact, first, size)  # nan compares False
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
        return _Outcome(abs_err, rel_err, True, True)
    second = fd(2.0)
    reliable = bool(np.all(np.abs(first - second) <= _tolerance(first, second, size)))
    return _Outcome(abs_err, rel_err, False, reliable)


def _inner(a: object, b: object) -> float:
    return float(np.sum(_array(a) * _array(b)))


def _magnitude(a: object, b: object) -> float:
    return float(np.sum(np.abs(_array(a) * _array(b))))


def _moved(point: Point, name: str, value: object) -> Point:
    out = dict(point)
    out[name] = value
    return out


def _as_input(value: np.ndarray | float, scalar: bool) -> object:
    return float(value) if scalar else value  # type: ignore[arg-type]


# --- the checks ----------------------------------------------------------------------


class _Checker:
    def __init__(self, module: ModuleType, spec: Spec, report: Report) -> None:
        self.module = module
        self.spec = spec
        self.report = report
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
        return sum(
            _inner(ck, fk) for ck, fk in zip(c, self.forward(point), strict=True)
        )

    def gradient(self, point: Point) -> list[np.ndarray]:
        """forward_backward's gradients (upstream 1) for hvp and hessian."""
        _, grads = self.module.forward_backward(*self.args(point))
        return [_array(g) for g in grads]

    # points -----------------------------------------------------------------------

    def draw(self, binding: Mapping[str, int]) -> Point:
        spec = self.spec
        for attempt in range(DOMAIN_TRIES[1]):
            low, high = SYMMETRIC if attempt < DOMAIN_TRIES[0] else POSITIVE
            point: Point = {}
            for name in spec.inputs:
                shape = tuple(_size(d, binding) for d in spec.shapes[name])
                if name in spec.integers:
                    bounds = [_size(d, binding) for d in spec.integers[name]]
                    bound = min(bounds) if bounds else 3
                    if bound <= 0:
                        raise _Skip(f"'{name}' indexes an axis of size {bound}")
                    ints = self.rng.integers(0, bound, size=shape)
                    point[name] = int(ints) if not shape else ints
                else:
                    values = self.rng.uniform(low, high, size=shape)
                    point[name] = float(values) if not shape else values
            try:
                values = self.forward(point)
            except Exception as exc:
                raise _Skip(f"forward raised {_one_line(exc)}") from None
            if all(np.all(np.isfinite(_array(v))) for v in values):
                return point
        raise _Skip("no point where forward is finite")

    # one point --------------------------------------------------------------------

    def check_point(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        results: list[tuple[str, str, _Outcome]] = []
        for function in self.spec.functions:
            method = getattr(self, f"_{function}")
            try:
                results += method(point)
            except _Unreliable:
                raise
            except Exception as exc:
                note = f"raised {_one_line(exc)}"
                if len(note) > 100:
                    note = note[:96] + " ..."
                whats: tuple[str, ...] = self.spec.wrt
                if function == "forward_backward":
                    whats = ("(value)", *whats, *(("(dot product)",) if whats else ()))
                results += [
                    (function, w, _Outcome(math.inf, math.inf, False, True, note))
                    for w in whats
                ]
        return results

    def _upstream(self, values: Sequence[object]) -> list[object]:
        return [
            (
                float(self.rng.standard_normal())
                if np.ndim(v) == 0
                else self.rng.standard_normal(np.shape(v))
            )
            for v in values
        ]

    def _fd_vjp(
        self, point: Point, c: Sequence[object], name: str
    ) -> Callable[[float], np.ndarray]:
        value = point[name]
        scalar = np.ndim(value) == 0

        def fd(scale: float) -> np.ndarray:
            array = _array(value)
            grad = np.zeros(array.shape)
            for index in np.ndindex(array.shape):
                x = float(array[index])
                h = scale * _step(x)
                up, down = array.copy(), array.copy()
                up[index] = x + h
                down[index] = x - h
                f_up = self.objective(_moved(point, name, _as_input(up, scalar)), c)
                f_down = self.objective(_moved(point, name, _as_input(down, scalar)), c)
                grad[index] = (f_up - f_down) / (up[index] - down[index])
            return grad

        return fd

    def _directional(
        self,
        fn: Callable[[Point], list[object]],
        point: Point,
        direction: Mapping[str, object],
    ) -> Callable[[float], list[np.ndarray]]:
        largest = max(
            (float(np.max(np.abs(_array(point[n])), initial=0.0)) for n in direction),
            default=0.0,
        )

        def fd(scale: float) -> list[np.ndarray]:
            h = scale * _step(largest)

            def at(sign: float) -> list[np.ndarray]:
                moved = dict(point)
                for name, t in direction.items():
                    moved[name] = _as_input(
                        _array(point[name]) + sign * h * _array(t),
                        np.ndim(point[name]) == 0,
                    )
                return [_array(v) for v in fn(moved)]

            up, down = at(1.0), at(-1.0)
            return [(u - d) / (2 * h) for u, d in zip(up, down, strict=True)]

        return fd

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

    def _value(self, got: Sequence[object], want: Sequence[object]) -> _Outcome:
        exact = _array(np.concatenate([np.ravel(_array(g)) for g in got]))
        ref = _array(np.concatenate([np.ravel(_array(w)) for w in want]))
        return _compare(exact, lambda scale: ref, np.abs(ref))

    def _forward_backward(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        spec = self.spec
        values = self.forward(point)
        c = self._upstream(values)
        value, grads = self.module.forward_backward(*self.args(point), *c)
        got_values = list(value) if spec.several else [value]
        results = [("forward_backward", "(value)", self._value(got_values, values))]
        grads = list(grads)
        if len(grads) != len(spec.wrt):
            note = f"{len(grads)} gradients for {len(spec.wrt)} inputs in WRT"
            return results + [
                ("forward_backward", n, _Outcome(math.inf, math.inf, False, True, note))
                for n in spec.wrt
            ]
        size = sum(_magnitude(ck, fk) for ck, fk in zip(c, values, strict=True))
        for name, g in zip(spec.wrt, grads, strict=True):
            outcome = _compare(g, self._fd_vjp(point, c, name), size)
            if not outcome.reliable:
                raise _Unreliable
            results.append(("forward_backward", name, outcome))
        if spec.wrt:  # the dot-product test along a random direction of every input
            direction = {
                n: (
                    float(self.rng.standard_normal())
                    if np.ndim(point[n]) == 0
                    else self.rng.standard_normal(np.shape(point[n]))
                )
                for n in spec.wrt
            }
            fd = self._directional(lambda p: [self.objective(p, c)], point, direction)
            t_jtc = sum(
                _inner(direction[n], g) for n, g in zip(spec.wrt, grads, strict=True)
            )
            outcome = _compare(t_jtc, lambda s: fd(s)[0], size)
            if not outcome.reliable:
                raise _Unreliable
            results.append(("forward_backward", "(dot product)", outcome))
        return results

    def _jvp(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        results = []
        for name in self.spec.wrt:
            direction = self._direction(point, name)
            value, tangent = self.module.jvp(
                *self.args(point), *self._tangents(point, direction)
            )
            tangents = list(tangent) if self.spec.several else [tangent]
            fd = self._directional(self.forward, point, direction)
            sizes = [np.abs(_array(v)) for v in self.forward(point)]
            outcome = _compare(
                np.concatenate([np.ravel(_array(t)) for t in tangents]),
                lambda s, fd=fd: np.concatenate([np.ravel(d) for d in fd(s)]),
                np.concatenate([np.ravel(s) for s in sizes]),
            )
            if not outcome.reliable:
                raise _Unreliable
            results.append(("jvp", name, outcome))
        return results

    def _jacobian(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        _, jac = self.module.jacobian(*self.args(point))
        matrix = _array(jac)
        results = []
        for j, name in enumerate(self.spec.wrt):
            fd = self._directional(self.forward, point, {name: 1.0})
            sizes = np.abs(np.ravel([_array(v) for v in self.forward(point)]))
            outcome = _compare(
                matrix[:, j] if matrix.ndim >= 2 else matrix,
                lambda s, fd=fd: np.ravel([d for d in fd(s)]),
                sizes,
            )
            if not outcome.reliable:
                raise _Unreliable
            results.append(("jacobian", name, outcome))
        return results

    def _second(
        self, point: Point, name: str, direction: Mapping[str, object]
    ) -> tuple[Callable[[float], np.ndarray], np.ndarray]:
        fd = self._directional(self.gradient, point, direction)
        size = np.concatenate([np.ravel(np.abs(g)) for g in self.gradient(point)])
        return (lambda s: np.concatenate([np.ravel(d) for d in fd(s)])), size

    def _hvp(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        results = []
        for name in self.spec.wrt:
            direction = self._direction(point, name)
            _, _, hv = self.module.hvp(
                *self.args(point), *self._tangents(point, direction)
            )
            fd, size = self._second(point, name, direction)
            outcome = _compare(
                np.concatenate([np.ravel(_array(e)) for e in hv]), fd, size
            )
            if not outcome.reliable:
                raise _Unreliable
            results.append(("hvp", name, outcome))
        return results

    def _hessian(self, point: Point) -> list[tuple[str, str, _Outcome]]:
        _, _, hessian = self.module.hessian(*self.args(point))
        matrix = _array(hessian)
        results = []
        for j, name in enumerate(self.spec.wrt):
            fd, size = self._second(point, name, {name: 1.0})
            column = matrix[:, j] if matrix.ndim >= 2 else matrix
            outcome = _compare(np.ravel(column), fd, size)
            if not outcome.reliable:
                raise _Unreliable
            results.append(("hessian", name, outcome))
        return results


class _Skip(Exception):
    """This binding cannot be used (forward fails, or an index range is empty)."""


def _layer_as_flat(module: ModuleType) -> ModuleType:
    """A ``--target layer`` module seen as a flat one: ``forward`` is the layer's
    forward without its cache, ``forward_backward`` runs the layer's backward on the
    cache it returned; the layer's own functions are what is checked."""
    names = [n for n in vars(module) if n.endswith("_forward") and n != "forward"]
    pairs = [
        n[: -len("_forward")]
        for n in names
        if callable(getattr(module, n))
        and callable(getattr(module, n[: -len("_forward")] + "_backward", None))
    ]
    if hasattr(module, "forward") or len(pairs) != 1 or not hasattr(module, "Cache"):
        return module
    layer_forward = getattr(module, f"{pairs[0]}_forward")
    layer_backward = getattr(module, f"{pairs[0]}_backward")
    n_inputs = len(getattr(module, "INPUTS", ()))
    flat = ModuleType(module.__name__)
    flat.__dict__.update(vars(module))

    def forward(*inputs: object) -> object:
        return layer_forward(*inputs)[0]

    def forward_backward(*args: object) -> tuple[object, object]:
        out, cache = layer_forward(*args[:n_inputs])
        upstream = args[n_inputs:] or (1.0,)
        return out, layer_backward(*upstream, cache)

    flat.forward = forward  # type: ignore[attr-defined]
    flat.forward_backward = forward_backward  # type: ignore[attr-defined]
    return flat


def verify_module(module: ModuleType, where: str) -> Report:
    """Check every function of ``module`` (see the module docstring)."""
    module = _layer_as_flat(module)
    spec = read_spec(module, where)
    report = Report(where)
    checker = _Checker(module, spec, report)
    for function in spec.functions:  # the table's order
        if function == "forward_backward":
            report.row(function, "(value)")
        for name in spec.wrt:
            report.row(function, name)
        if function == "forward_backward" and spec.wrt:
            report.row(function, "(dot product)")
    found = bindings(spec.symbols)
    per_binding = POINTS_PER_BINDING if spec.symbols else POINTS_SCALAR
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for binding in found:
            try:
                for _ in range(per_binding):
                    _check_one_point(checker, binding, report)
            except _Skip as skip:
                report.skipped.append(f"{show_binding(binding)}: {skip}")
                continue
            report.bindings.append(show_binding(binding))
    if not report.bindings:
        raise VerifyError(
            f"no binding of the sizes could be checked ({report.skipped[0]})", where
        )
    return report


def _check_one_point(
    checker: _Checker, binding: Mapping[str, int], report: Report
) -> None:
    for attempt in range(MAX_REDRAWS + 1):
        point = checker.draw(binding)
        try:
            results = checker.check_point(point)
        except _Unreliable:
            if attempt < MAX_REDRAWS:
                continue
            for row in report.rows.values():
                row.fail("no point where central differences are reliable")
            report.points += 1
            return
        report.points += 1
        for function, what, outcome in results:
            row = report.row(function, what)
            row.checked += 1
            row.abs_err = max(row.abs_err, outcome.abs_err)
            row.rel_err = max(row.rel_err, outcome.rel_err)
            if not outcome.ok:
                where = f"at {show_binding(binding)}" if binding else ""
                row.fail(outcome.note or where)
        return


def verify_file(path: str) -> Report:
    """``backpropgen --verify MODULE.py``."""
    where = path
    module = load_file(Path(path), where)
    return verify_module(module, where)


__all__ = ["Report", "VerifyError", "verify_file", "verify_module"]
