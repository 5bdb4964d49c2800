"""Passes over a reverse-mode result (:class:`codegen.reverse.VJP` -> ``VJP``).

Reverse mode itself only applies the rules.  What a module needs on top is composed
from these small passes, each doing one thing, chosen by the backend
(:mod:`codegen.backends`) in :mod:`codegen.generate`:

* :func:`share`: within the block that undoes one forward statement, reuse a gradient
  just computed (``dy = -dx * out`` after ``dx = dz / y``), name a part used twice
  (``dx_part = dz / y``), and write accumulated negations as ``dx = dx - a * b``;
* :func:`seed_upstream`: shape (``broadcast``) or check (``check``) the caller's
  upstream gradient before the sweep reads it;
* :func:`copy_aliases`: copy returned gradients that would be the caller's upstream
  array or share an array with another returned gradient (mutable arrays only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .ir import SCALAR, Expr, Op, Origin, Stmt, Type, Var, names_in, reuse_names
from .naming import Namer
from .primitives import OWN_STATEMENT
from .reverse import VJP


def _contains(expr: Expr, part: Expr) -> bool:
    """Whether ``part`` occurs in ``expr`` (rule outputs are a few nodes deep)."""
    if expr == part:
        return True
    return isinstance(expr, Op) and any(_contains(a, part) for a in expr.args)


def _negation_outside(expr: Expr) -> Expr:
    """``-a * b`` and ``a * -b`` as ``-(a * b)`` (and the same for ``/``), so that an
    accumulating statement reads ``dx = dx - a * b`` rather than ``dx = dx + -a * b``.
    """
    if isinstance(expr, Op) and expr.prim in ("mul", "div") and not expr.params:
        a, b = expr.args
        a_neg = isinstance(a, Op) and a.prim == "neg"
        b_neg = isinstance(b, Op) and b.prim == "neg" and expr.prim == "mul"
        if a_neg != b_neg:
            inner = (a.args[0], b) if a_neg else (a, b.args[0])  # type: ignore[union-attr]
            return Op("neg", (_negation_outside(Op(expr.prim, inner)),))
    return expr


def _blocks(stmts: tuple[Stmt, ...]) -> list[list[Stmt]]:
    """Runs of statements with one origin (one forward statement undone)."""
    blocks: list[list[Stmt]] = []
    for stmt in stmts:
        if blocks and stmt.origin is not None and stmt.origin is blocks[-1][0].origin:
            blocks[-1].append(stmt)
        else:
            blocks.append([stmt])
    return blocks


def share(vjp: VJP, namer: Namer) -> VJP:
    """Within each block: reuse gradients computed earlier in it, name parts that
    later statements of the block repeat, and put accumulated negations outside."""
    types = dict(vjp.types)
    out: list[Stmt] = []
    for block in _blocks(vjp.stmts):
        raw = [stmt.expr for stmt in block]
        defined_here: dict[Expr, str] = {}  # contribution -> the gradient it defined
        for index, stmt in enumerate(block):
            name, contribution = stmt.target, stmt.expr
            reuse = {e: n for e, n in defined_here.items() if n != name}
            if reuse:  # x / y: dy = -dx * out reuses dx = dz / y
                contribution = reuse_names(contribution, reuse)
            if stmt.accumulate:
                contribution = _negation_outside(contribution)
            if (
                stmt.accumulate
                and isinstance(contribution, Op)
                and any(_contains(later, contribution) for later in raw[index + 1 :])
            ):
                # x / y with dx accumulating: name dz / y once, for dx and for dy
                part = namer.fresh(f"{name}_part")
                types[part] = types.get(name, SCALAR)
                out.append(Stmt(part, contribution, origin=stmt.origin))
                defined_here[contribution] = part
                contribution = Var(part)
            if (
                stmt.accumulate
                and isinstance(contribution, Op)
                and contribution.prim in OWN_STATEMENT
            ):
                part = namer.fresh(f"{name}_part")
                types[part] = types.get(name, SCALAR)
                out.append(Stmt(part, contribution, origin=stmt.origin))
                contribution = Var(part)
            out.append(
                Stmt(name, contribution, stmt.accumulate, stmt.note, stmt.origin)
            )
            if not stmt.accumulate and isinstance(contribution, Op):
                defined_here[contribution] = name
    return vjp.with_backward(tuple(out), types)


def seed_upstream(vjp: VJP, policy: str | None) -> VJP:
    """Prepend a statement that shapes or checks each upstream gradient the sweep
    reads: ``broadcast`` gives it the output's shape (elementwise scalar programs
    called with arrays); ``check`` makes a scalar output's a float and an array
    output's a fresh float array of its shape (a wrong shape fails there)."""
    if policy is None:
        return vjp
    if policy not in ("broadcast", "check", "shape"):
        raise ValueError(f"unknown upstream policy {policy!r}")
    types = vjp.primal.types
    # the sweep reads an output's cotangent where it undoes the output's statement
    read = {
        stmt.origin.stmt.target
        for stmt in vjp.stmts
        if stmt.origin is not None and stmt.origin.kind == "undo"
        if stmt.origin.stmt is not None
    }
    seeds: list[Stmt] = []
    for output, upstream in zip(vjp.primal.outputs, vjp.cotangents, strict=True):
        if output not in read:
            continue
        if policy == "broadcast":
            expr: Expr = Op("broadcast_like", (Var(upstream), Var(output)))
            how = "broadcast"
        elif policy == "shape" or types.get(output, SCALAR).rank:
            expr = Op("broadcast_to", (Var(upstream), Var(output)))
            how = "check_array"
        else:
            expr = Op("as_float", (Var(upstream),))
            how = "check_number"
        origin = Origin("upstream", gate=how, names=(upstream, output))
        seeds.append(Stmt(upstream, expr, origin=origin))
    return vjp.with_backward(tuple(seeds) + vjp.stmts)


def _viewed(expr: Expr, views: frozenset[str]) -> str | None:
    """The name whose array ``expr`` is (a name) or shows (a view of a name)."""
    while isinstance(expr, Op) and expr.prim in views:
        expr = expr.args[0]
    return expr.name if isinstance(expr, Var) else None


def copy_aliases(vjp: VJP, views: frozenset[str], fresh_upstream: bool) -> VJP:
    """Copy returned gradients that alias the upstream array or each other.

    ``views`` are the backend's primitives whose result is a view of their first
    argument; ``fresh_upstream`` says the upstream gradient was replaced by a new
    array (or a float) before the sweep, so handing it back is safe.  In typed
    programs only array gradients are considered (numbers are immutable)."""
    types = vjp.primal.types
    returned = arrays_among(vjp.grads, vjp.wrt, types)
    callers = () if fresh_upstream else vjp.cotangents
    return vjp.with_backward(unalias(vjp.stmts, returned, callers, views))


def arrays_among(
    names: Sequence[str], like: Sequence[str], types: Mapping[str, Type]
) -> list[str]:
    """The ``names`` that can hold arrays: all of them in an untyped (elementwise)
    program, else those whose counterpart in ``like`` is an array."""
    typed = any(t.rank for t in types.values())
    return [
        n
        for n, of in zip(names, like, strict=True)
        if not typed or types.get(of, SCALAR).rank
    ]


def unalias(
    stmts: tuple[Stmt, ...],
    returned: Sequence[str],
    callers: Iterable[str],
    views: frozenset[str],
) -> tuple[Stmt, ...]:
    """Copy each ``returned`` name that would be one of the ``callers``' arrays (the
    function's array arguments) or the same array as a returned name before it, so
    that updating one in place changes nothing else."""
    backward = list(stmts)
    copies: dict[str, str] = {}  # name -> the name it is a plain copy or a view of
    defining: dict[str, int] = {}
    for index, stmt in enumerate(backward):
        defining[stmt.target] = index
        source = _viewed(stmt.expr, views)
        if source is not None and source != stmt.target and not stmt.accumulate:
            copies[stmt.target] = source
        else:
            copies.pop(stmt.target, None)

    roots: dict[str, str] = {}

    def root(name: str) -> str:
        """The array ``name`` is a copy or view of, with the path remembered: a long
        chain of copies (a sum of 100,000 inputs) is walked once, not once per name."""
        path = []
        while name in copies and name not in roots:
            path.append(name)
            name = copies[name]
        found = roots.get(name, name)
        for step in path:
            roots[step] = found
        return found

    caller_arrays = set(callers)
    claimed: set[str] = set(caller_arrays)  # the caller's arrays: never hand them back
    for name in returned:
        if name not in copies:
            claimed.add(name)
            continue
        origin = root(name)
        if origin in claimed:
            stmt = backward[defining[name]]
            backward[defining[name]] = Stmt(
                stmt.target,
                Op(
                    "copy",
                    (stmt.expr,),
                    (("caller", True),) if origin in caller_arrays else (),
                ),
                note=(
                    f"a copy: {origin} is the caller's array"
                    if origin in caller_arrays
                    else "a copy: returned gradients never share an array"
                ),
                origin=stmt.origin,
            )
        else:
            claimed.add(origin)
    return tuple(backward)


def share_derivatives(
    stmts: Sequence[Stmt], backward: set[str], tangent: set[str]
) -> tuple[tuple[Stmt, ...], frozenset[str]]:
    """Forward over reverse (hvp): compute each local derivative once.

    The tangent of a forward statement and its backward block both need the local
    derivative (``t_dot = t1_dot * (1 - t**2)`` after ``t = tanh(t1)``, and
    ``t2 = t**2; t3 = 1 - t2`` before ``dt1 = dt * t3``).  A backward statement that
    reads only primal values, and whose value (its primal-only operands written out)
    is part of an earlier forward tangent, moves up before that tangent, with the
    primal-only statements it reads, and the tangent reads its name instead
    (``t_dot = t1_dot * t3``).  ``backward`` and ``tangent`` name the backward and
    tangent statements' targets (tangent inputs included).  Returns the statements
    and the targets that moved.  Linear: one dictionary lookup per subexpression."""
    primal_only, by_value = _primal_only(stmts, backward, tangent)
    if not by_value:
        return tuple(stmts), frozenset()
    moved, rewritten = _reusing_tangents(
        stmts, backward, tangent, primal_only, by_value
    )
    if not moved:
        return tuple(stmts), frozenset()
    before, after = _placed(stmts, tangent, moved)
    moving = {s.target for group in after.values() for s in group}
    out: list[Stmt] = []
    for index, stmt in enumerate(stmts):
        out.extend(before.get(index, ()))
        if stmt.target not in moved and stmt.target not in moving:
            out.append(rewritten.get(index, stmt))
        out.extend(after.get(index, ()))
    return tuple(out), frozenset(moved) | frozenset(moving)


def _primal_only(
    stmts: Sequence[Stmt], backward: set[str], tangent: set[str]
) -> tuple[dict[str, Stmt], dict[Expr, str]]:
    """The backward statements that read only primal values (directly or through
    one another), by target, and the first of them for each written-out value."""
    primal_only: dict[str, Stmt] = {}
    written_out: dict[str, Expr] = {}
    by_value: dict[Expr, str] = {}
    for stmt in stmts:
        target = stmt.target
        if target not in backward or target in tangent or stmt.accumulate:
            continue
        if not isinstance(stmt.expr, Op):
            continue
        names = names_in(stmt.expr)
        if any((n in backward or n in tangent) and n not in primal_only for n in names):
            continue
        primal_only[target] = stmt
        value = _written_out(stmt.expr, written_out)
        written_out[target] = value
        by_value.setdefault(value, target)
    return primal_only, by_value


def _reusing_tangents(
    stmts: Sequence[Stmt],
    backward: set[str],
    tangent: set[str],
    primal_only: Mapping[str, Stmt],
    by_value: Mapping[Expr, str],
) -> tuple[dict[str, int], dict[int, Stmt]]:
    """The tangent statements that contain a primal-only value, rewritten to read
    its name (by index), and the primal-only statements that move, each with the
    index of the first tangent it moves before."""
    moved: dict[str, int] = {}  # target -> index of the tangent it moves before
    rewritten: dict[int, Stmt] = {}
    for index, stmt in enumerate(stmts):
        if stmt.target not in tangent or stmt.target in backward:
            continue
        if not isinstance(stmt.expr, Op):
            continue
        used: list[str] = []
        expr = reuse_names(stmt.expr, by_value, used)
        if not used:
            continue
        rewritten[index] = Stmt(
            stmt.target, expr, stmt.accumulate, stmt.note, stmt.origin
        )
        for name in used:
            for dep in _primal_only_deps(name, primal_only):
                moved.setdefault(dep, index)
    return moved, rewritten


def _placed(
    stmts: Sequence[Stmt], tangent: set[str], moved: Mapping[str, int]
) -> tuple[dict[int, list[Stmt]], dict[int, list[Stmt]]]:
    """The statements that go before each index (the moved ones, as shared) and
    after it (the tangents of moved statements)."""
    before: dict[int, list[Stmt]] = {}
    after: dict[int, list[Stmt]] = {}
    # where each name is computed once the statements have moved: a statement's own
    # index, or the index it moved before/after (a tangent goes after the last of
    # its reads, which may be a primal value computed after the tangent it follows)
    slot: dict[str, int] = {}
    for index, stmt in enumerate(stmts):  # in program order: dependencies first
        origin = stmt.origin
        at = moved.get(stmt.target)
        if at is not None:
            assert origin is not None and origin.stmt is not None
            shared = Origin("shared", origin.stmt, names=(origin.stmt.target,))
            before.setdefault(at, []).append(
                Stmt(stmt.target, stmt.expr, note=stmt.note, origin=shared)
            )
            slot[stmt.target] = at
            continue
        slot[stmt.target] = index
        if stmt.target in tangent and origin is not None and origin.stmt is not None:
            # the tangent of a moved statement reads the tangent it moved before
            at = moved.get(origin.stmt.target)
            if at is not None:
                at = max([at, *(slot.get(n, -1) for n in names_in(stmt.expr))])
                after.setdefault(at, []).append(stmt)
                slot[stmt.target] = at
    return before, after


def _written_out(expr: Expr, written_out: Mapping[str, Expr]) -> Expr:
    """``expr`` with each primal-only backward name replaced by its value."""
    if isinstance(expr, Var):
        return written_out.get(expr.name, expr)
    if isinstance(expr, Op):
        args = tuple(_written_out(a, written_out) for a in expr.args)
        if args != expr.args:
            return Op(expr.prim, args, expr.params)
    return expr


def _primal_only_deps(name: str, primal_only: Mapping[str, Stmt]) -> list[str]:
    """``name`` and the primal-only backward statements it reads, transitively."""
    found: dict[str, None] = {}
    stack = [name]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found[current] = None
        stack.extend(n for n in names_in(primal_only[current].expr) if n in primal_only)
    return list(found)
