"""Forward mode: a flat program -> the same program with each statement followed by its
tangent statement (a Jacobian-vector product, as straight-line code).

The tangent of ``v`` is ``v_dot`` (:meth:`codegen.naming.Namer.tangent`); each
differentiated input ``x`` gets a tangent input ``x_dot``, and the program returns the
tangent of each output after the outputs.  The rules are in :mod:`codegen.tangent_rules`.
Like :mod:`codegen.reverse`, this knows calculus only: no backend, no printer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .ir import (
    SCALAR,
    Const,
    Expr,
    Op,
    Origin,
    Program,
    Stmt,
    Type,
    Var,
    all_names,
    call,
    reuse_names,
)
from .naming import Namer
from .primitives import SUMS, primitive
from .reverse import differentiable_inputs, require_flat


@dataclass(frozen=True)
class JVP:
    """``program`` takes the primal inputs then ``tangents_in`` (one per ``wrt``
    input) and returns the primal outputs then ``tangents_out`` (one per output)."""

    program: Program
    wrt: tuple[str, ...]
    tangents_in: tuple[str, ...]
    tangents_out: tuple[str, ...]


def jvp(
    program: Program, wrt: tuple[str, ...] | None = None, namer: Namer | None = None
) -> JVP:
    """Forward mode of a flat, single-assignment program along ``wrt`` (default:
    every float input): one tangent input ``x_dot`` per ``wrt`` input."""
    require_flat(program)
    if wrt is None:
        wrt = differentiable_inputs(program)
    _check_wrt(program, wrt)
    if namer is None:
        namer = Namer(all_names(program))
    seeds: dict[str, Expr] = {}
    for name in wrt:
        seeds[name] = Var(namer.tangent(name))
    types = dict(program.types)
    for name in wrt:
        types[namer.tangent(name)] = program.types.get(name, SCALAR)
    stmts, tangents_out, tangent_types = push(program, seeds, namer.tangent)
    types.update(tangent_types)
    tangents_in = tuple(namer.tangent(name) for name in wrt)
    result = Program(
        program.inputs + tangents_in,
        stmts,
        program.outputs + tangents_out,
        types=types,
    )
    return JVP(result, wrt, tangents_in, tangents_out)


def _check_wrt(program: Program, wrt: tuple[str, ...]) -> None:
    types, inputs = program.types, set(program.inputs)  # a set: linear in wide programs
    bad = [n for n in wrt if n not in inputs or not types.get(n, SCALAR).differentiable]
    if bad or len(set(wrt)) != len(wrt):
        raise ValueError(f"jvp(): wrt {wrt!r} must be distinct float inputs")


def push(
    program: Program, seeds: dict[str, Expr], name_of: Callable[[str], str]
) -> tuple[tuple[Stmt, ...], tuple[str, ...], dict[str, Type]]:
    """Push the input tangents ``seeds`` through the program: each statement is
    followed by its tangent statement (named by ``name_of``) where the tangent is not
    zero.  Returns the statements, the tangent of each output (a ``zeros_like``
    statement where it is zero) and the types of the new names."""
    types = program.types
    typed = bool(types)

    def type_of(name: str) -> Type:
        return types.get(name, SCALAR)

    dots: dict[str, Expr] = dict(seeds)
    new_types: dict[str, Type] = {}
    stmts: list[Stmt] = []
    # primal values by expression: a tangent rule's ``sin(a)`` is ``b`` after
    # ``b = sin(a)`` (cos' in the HVP of sin), computed once
    values: dict[Expr, str] = {}
    value_of: dict[str, Expr] = {}
    later: Stmt | None = None  # known once its own tangent is written
    for stmt in program.stmts:
        if later is not None:
            values[later.expr] = later.target
            value_of[later.target] = later.expr
        stmts.append(stmt)
        target, expr = stmt.target, stmt.expr
        _forget(target, values, value_of)
        later = stmt if isinstance(expr, Op) and not stmt.accumulate else None
        if isinstance(expr, Const) or not type_of(target).differentiable:
            continue
        if isinstance(expr, Var):
            if expr.name not in dots:
                continue
            tangent: Expr | None = dots[expr.name]
        else:
            assert isinstance(expr, Op)
            arg_dots = tuple(
                dots.get(a.name) if isinstance(a, Var) else None for a in expr.args
            )
            if all(d is None for d in arg_dots):
                continue
            tangent = primitive(expr.prim).jvp(
                arg_dots, Var(target), expr.args, **dict(expr.params)
            )
            if tangent is None:
                continue
            tangent = reuse_names(tangent, values)
            if typed and expr.prim in SUMS:
                varying = [
                    type_of(a.name)
                    for a, d in zip(expr.args, arg_dots, strict=True)
                    if d is not None and isinstance(a, Var)
                ]
                if varying and all(t.shape != type_of(target).shape for t in varying):
                    tangent = call("expand", tangent, Var(target))
        name = name_of(target)
        new_types[name] = type_of(target)
        stmts.append(Stmt(name, tangent, origin=Origin("tangent", stmt)))
        dots[target] = Var(name)
    tangents_out = []
    for out in program.outputs:
        dot = dots.get(out)
        if isinstance(dot, Var):
            tangents_out.append(dot.name)
            continue
        name = name_of(out)
        new_types[name] = type_of(out)
        if dot is None:
            origin = Origin("tangent-zero", names=(out,))
            stmts.append(Stmt(name, Op("zeros_like", (Var(out),)), origin=origin))
        else:  # an output that is an input along which the seed is a constant
            stmts.append(Stmt(name, dot, origin=Origin("tangent", names=(out,))))
        tangents_out.append(name)
    return tuple(stmts), tuple(tangents_out), new_types


def _forget(name: str, values: dict[Expr, str], value_of: dict[str, Expr]) -> None:
    """``name`` is assigned again: its earlier value is no longer known by it."""
    expr = value_of.pop(name, None)
    if expr is not None and values.get(expr) == name:
        del values[expr]
