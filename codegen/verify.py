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

Tolerances (those of :mod:`codegen.oracles`, shared with the test suite, where they
are derived): step ``h = 1e-6 * max(1, |x|)``, and ``|exact - central difference| <=
1e-6 * min(|exact|, |central difference|) + 1e-9 * (1 + M)``, ``M`` the magnitude of
the differenced terms (``sum |c * f|`` for ``<c, f>``).

This module draws points and gathers the rows; :mod:`codegen.verify_spec` reads the
module and binds the sizes, :mod:`codegen.verify_check` runs the checks at a point,
:mod:`codegen.verify_report` holds the rows and prints the table.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

from .oracles import FD_ATOL, FD_RTOL, FD_STEP
from .verify_check import Checker, Skip, Unreliable
from .verify_report import Report
from .verify_spec import (
    VerifyError,
    bindings,
    load_file,
    read_spec,
    show_binding,
)

POINTS_SCALAR = 5  # points for a module without shape symbols
POINTS_PER_BINDING = 2
#: redraws of a point where the central difference is unreliable
MAX_REDRAWS = 5


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
    checker = Checker(module, spec)
    for function in spec.functions:  # the table's order
        if function == "forward_backward":
            report.row(function, "(value)")
        for name in spec.wrt:
            report.row(function, name)
        if function == "forward_backward" and spec.wrt:
            report.row(function, "(dot product)")
    found = bindings(spec.symbols, spec.sizes)
    per_binding = POINTS_PER_BINDING if spec.symbols else POINTS_SCALAR
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for binding in found:
            try:
                for _ in range(per_binding):
                    _check_one_point(checker, binding, report)
            except Skip as skip:
                report.skipped.append(f"{show_binding(binding)}: {skip}")
                continue
            report.bindings.append(show_binding(binding))
    if not found:
        raise VerifyError("no binding of the sizes makes every size positive", where)
    if not report.bindings:
        raise VerifyError(
            f"no binding of the sizes could be checked ({report.skipped[0]})", where
        )
    return report


def _check_one_point(
    checker: Checker, binding: Mapping[str, int], report: Report
) -> None:
    for attempt in range(MAX_REDRAWS + 1):
        point = checker.draw(binding)
        try:
            results = checker.check_point(point)
        except Unreliable:
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


__all__ = [
    "FD_ATOL",
    "FD_RTOL",
    "FD_STEP",
    "Report",
    "VerifyError",
    "verify_file",
    "verify_module",
]
