"""Parsed source -> flat forward program: one primitive per statement over atoms.

The entry point of the front end; its jobs are in their own modules: the builder
(:mod:`codegen.builder`: statements, names, assignments), the lowerings of user
functions (:mod:`codegen.lowerings`), constants (:mod:`codegen.constants`) and the
checks of inputs, outputs and dimensions (:mod:`codegen.arguments`).  A ``grad(y, x)``
in the program is one ``grad`` statement here; :mod:`codegen.grad_pass` expands it.
"""

from __future__ import annotations

import ast

from .arguments import check_dimensions, check_listed, check_outputs, input_warnings
from .assignments import REASSIGNMENT_RULE, Assignments, reassigns
from .builder import Builder
from .dims import dim_names
from .errors import InputError
from .ir import Origin, Program
from .lowerings import LOWERINGS
from .naming import Namer
from .parse import Parsed
from .shapes import SCALAR

__all__ = ["REASSIGNMENT_RULE", "linearize", "reassigns"]


def linearize(
    parsed: Parsed,
    inputs: tuple[str, ...] | None = None,
    outputs: tuple[str, ...] | None = None,
    warnings: list[str] | None = None,
) -> Program:
    """Build the flat forward program; ``inputs`` (from ``--inputs``) fixes input order,
    ``outputs`` (from ``--outputs``, else the program's last line ``u, v``) names the
    outputs (default: the value of the last statement).  The warnings about inputs
    (:func:`codegen.arguments.input_warnings`) are appended to ``warnings``."""
    assignments = Assignments(parsed, inputs)
    targets = assignments.line
    namer = Namer(_all_names(parsed) + list(inputs or ()))
    assignments.namer = namer
    builder = Builder(parsed, namer, assignments, LOWERINGS)
    check_dimensions(parsed, builder.dims, targets)
    output = ""
    iterations: dict[str, Origin] = {}  # label -> the one origin of its statements
    for st in parsed.statements:
        if st.augmented and st.target not in builder.current:
            if st.target not in assignments.inputs:
                raise InputError(
                    f"'{st.target} {st.augmented} ...' updates '{st.target}', which "
                    f"has no value yet (assign it first: '{st.target} = ...')",
                    f"{parsed.where}:{st.line}",
                )
        name = st.target if st.target is not None else namer.fresh("f")
        builder.origin = None
        if st.label:
            builder.origin = iterations.setdefault(
                st.label, Origin("loop", names=(st.label,))
            )
        try:
            output = builder.statement(st.value, name, st.line)
        except InputError as error:
            if st.label:  # which iteration of the loop failed
                error.message = f"{error.message} (at {st.label})"
            raise
    used = tuple(builder.inputs)
    if warnings is not None:
        warnings.extend(input_warnings(parsed, builder.read_at, builder.inputs, inputs))
    if inputs is not None:
        order = check_listed(inputs, used, targets, builder.dims, "--inputs")
    elif parsed.declared:
        # declared inputs first, in declaration order; undeclared ones are scalars
        order = parsed.declared + tuple(n for n in used if n not in parsed.declared)
    else:
        order = used
    types = {name: builder.types.get(name, SCALAR) for name in order}
    types.update(builder.types)
    named = check_outputs(parsed, outputs, targets)
    if named is not None:  # the newest version of each name
        named = tuple(builder.current.get(name, name) for name in named)
    return Program(order, tuple(builder.stmts), named or (output,), types=types)


def _all_names(parsed: Parsed) -> list[str]:
    names: list[str] = []
    for st in parsed.statements:
        if st.target is not None:
            names.append(st.target)
        for node in ast.walk(st.value):
            if isinstance(node, ast.Name):
                names.append(node.id)
    for _, decl in parsed.decls:
        names.extend(n for d in decl.shape for n in dim_names(d))
    return names + list(parsed.declared)
