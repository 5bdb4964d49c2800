"""Forward mode: a flat program -> the same program with each statement followed by its
tangent statement (a Jacobian-vector product, as straight-line code).

The tangent of ``v`` is ``v_dot`` (:meth:`codegen.naming.Namer.tangent`); each
differentiated input ``x`` gets a tangent input ``x_dot``, and the program returns the
tangent of each output after the outputs.  The rules are in :mod:`codegen.tangents`.
Like :mod:`codegen.reverse`, this knows calculus only: no backend, no printer.
"""

from __future__ import annotations

from dataclasses import dataclass

from codegen.ir import Const, Expr, Op, Origin, Program, Stmt, Var, all_names, call
from codegen.naming import Namer
from codegen.reverse import differentiable_inputs, require_flat
from codegen.shapes import SCALAR, Type
from codegen.tangents import tangent_rule

#: elementwise primitives whose tangent can be narrower than their value (a sum of
#: the varying arguments' tangents; a product broadcasts against the other factor)
_SUMS = frozenset({"add", "sub"})


@dataclass(frozen=True)
class JVP:
    """``program`` takes the primal inputs then ``tangents_in`` (one per ``wrt``
    input) and returns the primal outputs then ``tangents_out`` (one per output)."""

    program: Program
    wrt: tuple[str, ...]
    tangents_in: tuple[str, ...]
    tangents_out: tuple[str, ...]


def _widen(dot: Expr, dot_type: Type | None, out: str, out_type: Type) -> Expr:
    """A tangent shaped like its value: an elementwise result whose only varying
    argument is smaller (``f = x + Y`` with ``x`` scalar) broadcasts the tangent."""
    if dot_type is None or dot_type.shape == out_type.shape:
        return dot
    return call("expand", dot, Var(out))


def jvp(
    program: Program, wrt: tuple[str, ...] | None = None, namer: Namer | None = None
) -> JVP:
    """Forward mode of a flat, single-assignment program along ``wrt`` (default:
    every float input)."""
    require_flat(program)
    types = program.types
    typed = bool(types)

    def type_of(name: str) -> Type:
        return types.get(name, SCALAR)

    if wrt is None:
        wrt = differentiable_inputs(program)
    bad = [n for n in wrt if n not in program.inputs or not type_of(n).differentiable]
    if bad or len(set(wrt)) != len(wrt):
        raise ValueError(f"jvp(): wrt {wrt!r} must be distinct float inputs")
    if namer is None:
        namer = Namer(all_names(program))

    dots: dict[str, Var] = {}
    out_types: dict[str, Type] = dict(types)
    tangents_in = []
    for name in wrt:
        dot = namer.tangent(name)
        dots[name] = Var(dot)
        out_types[dot] = type_of(name)
        tangents_in.append(dot)
    stmts: list[Stmt] = []
    for stmt in program.stmts:
        stmts.append(stmt)
        target, expr = stmt.target, stmt.expr
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
            tangent = tangent_rule(expr.prim)(
                arg_dots, Var(target), expr.args, **dict(expr.params)
            )
            if tangent is None:
                continue
            if typed and expr.prim in _SUMS:
                varying = [
                    type_of(a.name)
                    for a, d in zip(expr.args, arg_dots, strict=True)
                    if d is not None and isinstance(a, Var)
                ]
                widest = max(varying, key=lambda t: t.rank) if varying else None
                if widest is not None and all(
                    t.shape != type_of(target).shape for t in varying
                ):
                    tangent = _widen(tangent, widest, target, type_of(target))
        name = namer.tangent(target)
        out_types[name] = type_of(target)
        stmts.append(Stmt(name, tangent, origin=Origin("tangent", stmt)))
        dots[target] = Var(name)
    tangents_out = []
    for out in program.outputs:
        if out in dots:
            tangents_out.append(dots[out].name)
            continue
        name = namer.tangent(out)
        out_types[name] = type_of(out)
        stmts.append(
            Stmt(
                name,
                Op("zeros_like", (Var(out),)),
                origin=Origin("zero", names=(out, ", ".join(wrt))),
            )
        )
        tangents_out.append(name)
    result = Program(
        program.inputs + tuple(tangents_in),
        tuple(stmts),
        program.outputs + tuple(tangents_out),
        types=out_types,
    )
    return JVP(result, wrt, tuple(tangents_in), tuple(tangents_out))
