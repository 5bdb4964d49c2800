"""``--trace``: the value and the gradient of every name of a program at a point.

The rows are the inputs, then every forward statement in order, each with the code's
own name, the statement as the generated module writes it, its value and its gradient
(one per output: the gradient of that output with respect to the row's value).  The
lecture's tables of §1 and §3 are such traces.  An array program's values are NumPy
arrays, shown by their shape and a summary (``(4, 3) mean 0.12 min -1.3 max 2``).

Nothing the user wrote is evaluated.  The flat program's statements, forward and
backward, are printed by the backend's printer (the very lines of the generated
module), compiled, and run in one namespace, which then holds every name's value:
:func:`codegen.evaluate.load_module` does the same with the whole module.  The
gradient of a value ``v`` is read from the name the module gives it (``dv``, or the
namer's fallback on a clash), which the VJP records (``VJP.gradients``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import OptionError
from .evaluate import Value, complete_point, point_value, real_value, summary
from .generate import Compiled, compile_source
from .ir import Stmt
from .options import Options
from .printing import Printer


@dataclass(frozen=True)
class Row:
    """One name of the program at the point."""

    name: str
    #: the statement as the generated module writes it ("" for an input)
    statement: str
    value: Value
    #: the gradient of each output with respect to this value; None where the module
    #: computes none (a value no differentiated input reaches, or an integer)
    grads: tuple[Value | None, ...]
    #: the statement itself (None for an input), for the graph
    stmt: Stmt | None = None


@dataclass(frozen=True)
class Trace:
    compiled: Compiled
    rows: tuple[Row, ...]
    #: the point, random values included, as given to the module's functions' caller
    point: Mapping[str, object] = field(default_factory=dict)
    #: the program's text, when known (the graph draws an array program's statements)
    source: str | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.compiled.forward.outputs


def number(value: Value | None) -> str:
    """How the trace and the graph show a number: six significant digits (-22,
    0.731059, 8.31528e-07); ``--at`` prints the full float.  An array is its shape and
    a summary."""
    if value is None:
        return ""
    if isinstance(value, np.ndarray):
        return summary(value)
    if value == 0:
        return "0"  # not -0
    return f"{value:.6g}"


def gradient_names(compiled: Compiled) -> dict[str, str]:
    """Every value's gradient name in the module, for the values that have one."""
    return dict(compiled.vjp.gradients)


def _run(lines: list[str], namespace: dict[str, object]) -> None:
    code = "\n".join(lines) + "\n"
    exec(compile(code, "<backpropgen trace>", "exec"), namespace)  # noqa: S102 - ours


def trace_compiled(
    compiled: Compiled,
    point: Mapping[str, object],
    seed: int | None = None,
    source: str | None = None,
) -> Trace:
    """The trace of a compiled program at ``point`` (checked here; with ``seed``,
    random values for what it does not give: :func:`codegen.evaluate.random_point`)."""
    point = complete_point(compiled, point, seed)
    forward, vjp = compiled.forward, compiled.vjp
    printer = Printer(compiled.backend.name)
    forward_lines = [printer.statement(s) for s in forward.stmts]
    backward_lines = [printer.statement(s) for s in vjp.stmts]
    preamble = [*printer.imports(), *printer.helper_lines()]  # sigmoid(x), ...
    start: dict[str, object] = {
        name: point_value(compiled.backend, point[name]) for name in forward.inputs
    }
    values = dict(start)
    grads_by_output: list[dict[str, object]] = []
    try:
        with warnings.catch_warnings():  # NumPy's invalid-value warnings: nan shows it
            warnings.simplefilter("ignore", RuntimeWarning)
            _run(preamble + forward_lines, values)
            for k in range(len(forward.outputs)):
                namespace = dict(values)
                for j, cotangent in enumerate(vjp.cotangents):
                    namespace[cotangent] = float(j == k)
                _run(backward_lines, namespace)
                grads_by_output.append(namespace)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise OptionError(f"evaluation failed: {exc}", "--trace") from None
    names = gradient_names(compiled)
    rows: list[Row] = []
    entries: list[tuple[str, str, Stmt | None]] = [
        (n, "", None) for n in forward.inputs
    ]
    entries += [
        (s.target, line, s)
        for s, line in zip(forward.stmts, forward_lines, strict=True)
    ]
    for name, line, stmt in entries:
        grad = names.get(name)
        grads = tuple(
            None if grad is None else real_value(f"d{name}", namespace[grad])
            for namespace in grads_by_output
        )
        rows.append(Row(name, line, real_value(name, values[name]), grads, stmt))
    return Trace(compiled, tuple(rows), point, source)


def trace_at(
    source: str,
    options: Options,
    point: Mapping[str, object],
    where: str,
    seed: int | None = None,
) -> Trace:
    """``--trace``: compile ``source`` and trace it at ``point`` (and random values
    drawn from ``seed`` for what it does not give)."""
    compiled = compile_source(source, options, where)
    return trace_compiled(compiled, point, seed, source)


def trace_table(trace: Trace) -> str:
    """The trace as a table: name, statement, value, gradient (one column per
    output: d<output>/d<name>), in forward order; inputs first, marked ``(input)``,
    and ``-`` where the module computes no gradient."""
    outputs = trace.outputs
    if len(outputs) == 1:
        grad_heads = ["gradient"]
    else:
        grad_heads = [f"gradient of {o}" for o in outputs]
    head = ["name", "statement", "value", *grad_heads]
    body = [
        [
            row.name,
            row.statement or "(input)",
            number(row.value),
            *(number(g) if g is not None else "-" for g in row.grads),
        ]
        for row in trace.rows
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *body]
    ]
    return "\n".join(lines)
