"""Static types of a program's values, from the shape rule of each primitive's record
(:mod:`codegen.primitives`): every name's dtype and shape, checked when generating.

A mismatch is a :class:`~codegen.shapes.ShapeError` naming the statement and both shapes.
"""

from __future__ import annotations

from collections.abc import Mapping

from .ir import INT, SCALAR, Const, Expr, Op, Program, Type, Var
from .primitives import PRIMITIVES
from .shapes import ShapeError, Site


def infer(
    prim: str,
    types: list[Type],
    params: dict,
    what: str,
    where: str,
    args: tuple[Expr, ...] = (),
) -> Type:
    """The result type of a primitive, or a :class:`ShapeError` naming both shapes.

    ``args`` are the argument atoms: only ``reshape`` needs them (its target dims)."""
    record = PRIMITIVES.get(prim)
    if record is None:
        raise ShapeError(f"{what}: no shape rule for '{prim}'", where)
    return record.shape(types, params, Site(args, what, where, record.dtype))


def const_type(const: Const) -> Type:
    """``int`` for an int literal, ``float`` for the rest (floats, ratios, ``pi``)."""
    return INT if isinstance(const.value, int) else SCALAR


def type_expr(
    expr: Expr, types: Mapping[str, Type], what: str = "", where: str = ""
) -> Type:
    """The type of an expression tree (iterative), names typed by ``types`` (a name
    missing there is a float scalar)."""
    done: dict[int, Type] = {}
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, Var):
            done[id(node)] = types.get(node.name, SCALAR)
        elif isinstance(node, Const):
            done[id(node)] = const_type(node)
        elif not expanded:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
        else:
            arg_types = [done[id(a)] for a in node.args]
            params = dict(node.params)
            done[id(node)] = infer(node.prim, arg_types, params, what, where, node.args)
    return done[id(expr)]


def type_program(program: Program, where: str = "<program>") -> dict[str, Type]:
    """Every name of a program (inputs, then targets in order) with the type the shape
    rules derive for it from the input types in ``program.types`` (an input missing
    there is a float scalar).  Works on flat programs and on expression trees; an
    accumulating statement (``dx = dx + e``) is typed as the sum it stands for."""
    types: dict[str, Type] = {
        name: program.types.get(name, SCALAR) for name in program.inputs
    }
    for index, stmt in enumerate(program.stmts):
        expr = stmt.expr
        if stmt.accumulate:
            expr = Op("add", (Var(stmt.target), expr))
        types[stmt.target] = type_expr(
            expr,
            types,
            f"in the statement assigning '{stmt.target}'",
            f"{where}:statement {index + 1}",
        )
    return types
