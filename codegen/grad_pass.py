"""``grad(y, x)`` inside a program: the pass that expands it after the front end.

:mod:`codegen.lowerings` writes each ``grad(y, x)`` as one statement
``g = grad(y, x)``.  :func:`expand_grads` replaces it, in program order, by the
backward statements of the program before it: reverse mode of that program with the
output ``y`` and the upstream gradient 1 (``dy_dy = 1.0``), the gradients named
``d<y>_d<v>``, shared (:func:`codegen.passes.share`) and prepared (flat and
single-assignment), then ``g = d<y>_d<x>``.  A later ``grad`` differentiates the
statements of an earlier one too (backpropagating twice).

Temporaries keep the trace order: the builder names those after a ``grad`` statement
provisionally (``_t1``, ...: :data:`codegen.builder.PROVISIONAL`), and this pass names
them in order after the statements it writes, as the namer would have.
"""

from __future__ import annotations

from .builder import PROVISIONAL
from .dims import dim_names
from .ir import Const, Expr, Op, Origin, Program, Stmt, Var, all_names
from .naming import Namer
from .passes import share
from .reverse import reverse
from .shapes import Type


def _is_grad(stmt: Stmt) -> bool:
    return isinstance(stmt.expr, Op) and stmt.expr.prim == "grad"


def _provisional(name: str) -> bool:
    return name.startswith(PROVISIONAL)


def _renamed(expr: Expr, names: dict[str, str]) -> Expr:
    """``expr`` (one primitive over atoms) with its names renamed."""
    if isinstance(expr, Var):
        return Var(names.get(expr.name, expr.name))
    if isinstance(expr, Op) and any(
        isinstance(a, Var) and a.name in names for a in expr.args
    ):
        args = tuple(
            Var(names.get(a.name, a.name)) if isinstance(a, Var) else a
            for a in expr.args
        )
        return Op(expr.prim, args, expr.params)
    return expr


def _taken(program: Program) -> list[str]:
    """The names the program uses (its provisional ones aside) and its dimensions."""
    names = [n for n in all_names(program) if not _provisional(n)]
    for name in program.inputs:
        kind = program.types.get(name)
        if kind is not None:
            names.extend(n for d in kind.shape for n in dim_names(d))
    return names


def expand_grads(program: Program) -> Program:
    """The program with each ``grad`` statement expanded (see the module's
    docstring); a program without one is returned as it is."""
    if not any(_is_grad(stmt) for stmt in program.stmts):
        return program
    namer = Namer(_taken(program))
    names: dict[str, str] = {}  # provisional name -> its name
    types = {n: t for n, t in program.types.items() if not _provisional(n)}
    stmts: list[Stmt] = []
    for stmt in program.stmts:
        expr = _renamed(stmt.expr, names)
        target = stmt.target
        if _is_grad(stmt):
            assert isinstance(expr, Op)
            gradient = _expand(expr, program.inputs, stmts, types, namer)
            if _provisional(target):
                names[target] = gradient
                continue
            expr = Var(gradient)
        elif _provisional(target):
            names[target] = namer.temp()
            types[names[target]] = program.types[target]
            target = names[target]
        if target is stmt.target and expr is stmt.expr:
            stmts.append(stmt)
        else:
            stmts.append(Stmt(target, expr, stmt.accumulate, stmt.note, stmt.origin))
    outputs = tuple(names.get(n, n) for n in program.outputs)
    return Program(program.inputs, tuple(stmts), outputs, types=types)


def _expand(
    grad: Op,
    inputs: tuple[str, ...],
    stmts: list[Stmt],
    types: dict[str, Type],
    namer: Namer,
) -> str:
    """Replace ``stmts`` (the program so far) by themselves followed by the backward
    statements of ``grad(y, x)``; return the name of the gradient."""
    y, x = (a.name for a in grad.args if isinstance(a, Var))
    y_source, x_source = dict(grad.params)["names"]  # type: ignore[misc]
    prefix = Program(inputs, tuple(stmts), (y,), types=types)
    adjoints: dict[str, str] = {}

    def adjoint(name: str) -> str:  # d<y>_d<v>, fresh for each grad()
        if name not in adjoints:
            adjoints[name] = namer.fresh(f"d{y}_d{name}")
        return adjoints[name]

    vjp = share(reverse(prefix, (x,), namer, adjoint=adjoint), namer)
    (upstream,) = vjp.cotangents
    origin = Origin("inner", names=(y_source, x_source, upstream))
    flat = vjp.joined(Stmt(upstream, Const.of(1.0), origin=origin), namer)
    stmts[:] = flat.stmts
    types.update(flat.types)
    return flat.outputs[-1]
