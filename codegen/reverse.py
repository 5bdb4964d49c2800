"""Reverse mode: a flat program -> its vector-Jacobian product, as flat programs.

For each forward statement, last to first, its rule (:mod:`codegen.reverse_rules`) turns the
gradient of its output into one contribution per argument.  The first contribution to a
gradient defines it (``dq = df``); later ones accumulate (``dx = dx + ...``: a value
used twice, fan-out).  Only what the requested gradients need is emitted: a statement is
undone only if a differentiated input reaches it and it reaches an output.
Statements computed only for one branch of a ``where`` have their contributions masked
by its condition (:func:`branch_guards`), so the branch that was not selected
contributes exactly 0 even where its own derivative is inf or nan.

This module knows calculus and nothing else: no backend, no printer, no command line.
What a backend needs on top (shaping the upstream gradient, copying aliased arrays,
naming shared subexpressions) are passes in :mod:`codegen.passes` that map a
:class:`VJP` to a :class:`VJP`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType

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
    names_in,
)
from .liveness import live_names, reads
from .naming import Namer
from .primitives import (
    COMPARISONS,
    CORE_RANK,
    ELEMENTWISE,
    NO_GRADIENT,
    ZERO_PRESERVING,
    primitive,
)
from .shapes import unbroadcast_axes
from .transforms import prepare


@dataclass(frozen=True)
class VJP:
    """A program's reverse mode, structured (in the spirit of JAX's ``vjp``).

    ``primal`` is the forward program as given.  The backward statements ``stmts``
    (typed by ``types``) read the residuals (primal values: inputs and
    intermediates) and one cotangent per primal output (``cotangents[k]`` is the
    upstream gradient of ``primal.outputs[k]``), and compute ``grads``, the gradients
    of the ``wrt`` inputs in that order.  ``gradients`` maps each primal name whose
    gradient the backward statements compute (or read: the cotangents) to that
    gradient's name.
    """

    primal: Program
    stmts: tuple[Stmt, ...]
    types: Mapping[str, Type]
    cotangents: tuple[str, ...]
    wrt: tuple[str, ...]
    grads: tuple[str, ...]
    gradients: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def residuals(self) -> tuple[str, ...]:
        """The primal names the backward statements read, in the primal's order
        (inputs, then statements): what a layer's cache must hold."""
        read = set(reads(self.stmts))
        order = list(self.primal.inputs) + [s.target for s in self.primal.stmts]
        return tuple(n for n in dict.fromkeys(order) if n in read)

    @cached_property
    def backward(self) -> Program:
        """The backward program: residuals and cotangents in, gradients out."""
        return Program(
            self.residuals + self.cotangents, self.stmts, self.grads, types=self.types
        )

    def joined(self, seed: Stmt | None = None, namer: Namer | None = None) -> Program:
        """Forward, then ``seed`` (if given: the statement that gives the one cotangent
        its value, ``df = 1.0``), then backward, as one program: the inputs (and the
        cotangents, unless seeded) in, the primal outputs and the gradients out.  With
        ``namer`` (the module's) it is prepared (``transforms.prepare``: flat and
        single-assignment), so it can be differentiated again."""
        types = dict(self.primal.types)
        types.update(self.types)
        inputs = self.primal.inputs
        stmts = self.primal.stmts
        if seed is None:
            inputs += self.cotangents
        else:
            stmts += (seed,)
        program = Program(
            inputs,
            stmts + self.stmts,
            self.primal.outputs + self.grads,
            types=types,
        )
        return program if namer is None else prepare(program, namer)

    def with_backward(
        self, stmts: tuple[Stmt, ...], types: Mapping[str, Type] | None = None
    ) -> VJP:
        """The same VJP with other backward statements (a pass's result)."""
        return replace(self, stmts=stmts, types=self.types if types is None else types)


def require_flat(program: Program) -> None:
    """Reverse mode reads each statement as one primitive over names and constants,
    assigned once; anything else would silently lose gradients."""
    seen = set(program.inputs)
    for stmt in program.stmts:
        expr = stmt.expr
        nested = isinstance(expr, Op) and any(isinstance(a, Op) for a in expr.args)
        if nested or stmt.accumulate or stmt.target in seen:
            raise ValueError(
                f"reverse() needs a flat, single-assignment program; "
                f"'{stmt.target}' is not (use codegen.transforms.prepare first)"
            )
        seen.add(stmt.target)


def _unbroadcast(contribution: Expr, result: Type, arg: Type) -> Expr:
    """Sum a gradient shaped like an elementwise result back to its argument's shape."""
    if result.shape == arg.shape:
        return contribution
    if isinstance(contribution, Op) and contribution.prim == "neg":
        # sum first, negate the (smaller) sum: -(dt.sum(axis=0))
        return Op("neg", (_unbroadcast(contribution.args[0], result, arg),))
    leading, kept = unbroadcast_axes(result.shape, arg.shape)
    if leading:
        axis = leading[0] if len(leading) == 1 else leading
        contribution = call("sum", contribution, axis=axis, keepdims=False)
    if kept:
        axis = kept[0] if len(kept) == 1 else kept
        contribution = call("sum", contribution, axis=axis, keepdims=True)
    return contribution


#: the branches a value is computed for: ``((c, True),)`` is the first branch of
#: ``where(c, ., .)``; a branch of a ``where`` inside a branch adds its condition
Guard = tuple[tuple[str, bool], ...]


def branch_guards(program: Program) -> dict[str, Guard]:
    """The statements computed only for one branch of a ``where``, with its
    condition: ``t -> ((c, True),)`` when every use of ``t`` is, position by
    position, inside the first branch of ``where(c, ., .)`` (``False``: the second
    branch; a nested ``where`` adds its own condition after the outer ones).

    That is: ``t`` is elementwise and not an output, and each use of it is either a
    branch of a ``where`` or an argument of a statement guarded the same way, all
    with the same guard and shape (so that position ``i`` of ``t`` only feeds position ``i``
    of the ``where``).  Reverse mode masks such a statement's contributions with
    its condition (see :data:`codegen.reverse_rules.WHERE_CONVENTION`): the gradient
    reaching it is exactly 0 where the branch is not selected, but its local
    derivative there may be inf or nan (``sqrt(x)`` at x < 0, ``log(x)`` at 0),
    and 0 * inf is nan.  One backward sweep over the statements: linear time.
    """
    stmts = program.stmts
    if not any(isinstance(s.expr, Op) and s.expr.prim == "where" for s in stmts):
        return {}  # no where: nothing is computed for one branch only
    types = program.types
    outputs = set(program.outputs)
    uses: dict[str, list[tuple[int, int]]] = {}
    for index, stmt in enumerate(stmts):
        args = stmt.expr.args if isinstance(stmt.expr, Op) else (stmt.expr,)
        for position, arg in enumerate(args):
            if isinstance(arg, Var):
                uses.setdefault(arg.name, []).append((index, position))
    guards: dict[str, Guard] = {}
    for index in range(len(stmts) - 1, -1, -1):
        stmt = stmts[index]
        expr = stmt.expr
        if (
            stmt.target in outputs
            or not isinstance(expr, Op)
            or expr.prim not in ELEMENTWISE
            or expr.prim in COMPARISONS
        ):
            continue
        shape = types.get(stmt.target, SCALAR).shape
        key: Guard | None = None
        for user_index, position in uses.get(stmt.target, ()):
            user = stmts[user_index]
            if types.get(user.target, SCALAR).shape != shape:
                key = None
                break
            use = user.expr
            if (
                isinstance(use, Op)
                and use.prim == "where"
                and position in (1, 2)
                and isinstance(use.args[0], Var)
            ):
                outer = guards.get(user.target, ())
                this: Guard | None = (*outer, (use.args[0].name, position == 1))
            else:
                this = guards.get(user.target) if isinstance(use, Op) else None
            if this is None or (key is not None and this != key):
                key = None
                break
            key = this
        if key is not None:
            guards[stmt.target] = key
    return guards


def _guarded(contribution: Expr, guard: Guard) -> Expr:
    """``where(c, contribution, 0)`` (or ``where(c, 0, contribution)`` for the second
    branch), innermost condition first: exactly 0 where the branch is not selected,
    exact where it is."""
    zero = Const.of(0.0)
    for cond, first in reversed(guard):
        if first:
            contribution = call("where", Var(cond), contribution, zero)
        else:
            contribution = call("where", Var(cond), zero, contribution)
    return contribution


def active_names(program: Program, wrt: tuple[str, ...]) -> set[str]:
    """Names a ``wrt`` input reaches through differentiable statements."""
    types = program.types
    active: set[str] = set(wrt)
    for stmt in program.stmts:
        expr = stmt.expr
        if isinstance(expr, Op) and expr.prim in NO_GRADIENT:
            continue
        if not types.get(stmt.target, SCALAR).differentiable:
            continue
        if any(n in active for n in _names(expr)):
            active.add(stmt.target)
    return active


def _names(expr: Expr) -> tuple[str, ...]:
    if isinstance(expr, Var):
        return (expr.name,)
    if isinstance(expr, Op):
        return tuple(a.name for a in expr.args if isinstance(a, Var))
    return ()


def differentiable_inputs(program: Program) -> tuple[str, ...]:
    """The inputs with a gradient (float ones), in input order."""
    types = program.types
    return tuple(n for n in program.inputs if types.get(n, SCALAR).differentiable)


def _checked_wrt(program: Program, wrt: tuple[str, ...] | None) -> tuple[str, ...]:
    """``wrt``, or every float input if not given; a ``ValueError`` unless it names
    distinct float inputs."""
    require_flat(program)
    types = program.types
    if wrt is None:
        wrt = differentiable_inputs(program)
    inputs = set(program.inputs)  # a set: a tuple makes this quadratic in wide programs
    bad = [n for n in wrt if n not in inputs or not types.get(n, SCALAR).differentiable]
    if bad or len(set(wrt)) != len(wrt):
        raise ValueError(f"reverse(): wrt {wrt!r} must be distinct float inputs")
    return wrt


@dataclass
class _Sweep:
    """The backward statements as the sweep builds them, and what they define:
    ``gradients`` (primal name -> gradient name), ``grad_types`` (gradient name ->
    type) and ``has_grad`` (the primal names whose gradient is defined so far)."""

    program: Program
    needed: set[str]
    adjoint: Callable[[str], str]
    level: int
    gradients: dict[str, str]
    grad_types: dict[str, Type]
    has_grad: set[str]
    backward: list[Stmt] = field(default_factory=list)

    def type_of(self, name: str) -> Type:
        return self.program.types.get(name, SCALAR)


def _contributions(
    sweep: _Sweep, stmt: Stmt, g: Var, guards: Mapping[str, Guard]
) -> tuple[tuple[Expr, ...], tuple, str]:
    """A statement's arguments, the contribution of ``g`` (its target's gradient) to
    each (``None``: none), and its gate.  A where branch's contributions are masked by
    its condition; an elementwise one's are summed back to its argument's shape."""
    target, expr = stmt.target, stmt.expr
    if isinstance(expr, Var):
        return (expr,), (g,), "copy"
    record = primitive(expr.prim)
    args = expr.args
    contributions = record.vjp(g, Var(target), args, **dict(expr.params))
    guard = guards.get(target)
    if guard is not None and expr.prim not in ZERO_PRESERVING:
        # a where branch: 0 where it is not selected
        contributions = tuple(
            (
                c
                if c is None or set(names_in(c)) <= {g.name}  # g * 2, -g
                else _guarded(c, guard)
            )
            for c in contributions
        )
    if sweep.program.types and expr.prim in ELEMENTWISE:
        type_of = sweep.type_of
        contributions = tuple(
            (
                None
                if c is None or not isinstance(a, Var)
                else _unbroadcast(c, type_of(target), type_of(a.name))
            )
            for a, c in zip(args, contributions, strict=True)
        )
    elif sweep.program.types and expr.prim in CORE_RANK:
        contributions = _unbatched(sweep, stmt, contributions)
    return args, contributions, record.gate


def _unbatched(sweep: _Sweep, stmt: Stmt, contributions: tuple) -> tuple:
    """A batched primitive's contributions, each shaped like the result's batch axes
    and its argument's core axes, summed back over the batch axes the argument was
    broadcast along."""
    assert isinstance(stmt.expr, Op)
    result = sweep.type_of(stmt.target)
    core = CORE_RANK[stmt.expr.prim]
    out: list[Expr | None] = []
    for a, c in zip(stmt.expr.args, contributions, strict=True):
        if c is None or not isinstance(a, Var):
            out.append(None)
            continue
        arg = sweep.type_of(a.name)
        batch = result.shape[: result.rank - core]
        shaped = Type(result.dtype, batch + arg.shape[arg.rank - core :])
        out.append(_unbroadcast(c, shaped, arg))
    return tuple(out)


def _accumulate(
    sweep: _Sweep,
    args: tuple[Expr, ...],
    contributions: tuple,
    origin: Origin,
) -> None:
    """One gradient statement per contribution to a needed name: the first defines
    its gradient, later ones add to it (fan-out)."""
    for arg, contribution in zip(args, contributions, strict=True):
        if contribution is None or not isinstance(arg, Var):
            continue
        if arg.name not in sweep.needed:
            continue
        name = sweep.adjoint(arg.name)
        sweep.gradients[arg.name] = name
        sweep.grad_types[name] = sweep.type_of(arg.name)
        accumulate = arg.name in sweep.has_grad
        sweep.backward.append(
            Stmt(
                name,
                contribution,
                accumulate=accumulate,
                note="fan-out: gradients add up" if accumulate else "",
                origin=origin,
            )
        )
        sweep.has_grad.add(arg.name)


def _undo_all(sweep: _Sweep) -> None:
    """The statements, last to first: each one the differentiated inputs reach and
    whose target has a gradient adds its contributions to its arguments' gradients."""
    guards = branch_guards(sweep.program)
    for stmt in reversed(sweep.program.stmts):
        target, expr = stmt.target, stmt.expr
        if (
            target not in sweep.needed
            or target not in sweep.has_grad
            or isinstance(expr, Const)
        ):
            continue
        g = Var(sweep.adjoint(target))
        args, contributions, gate = _contributions(sweep, stmt, g, guards)
        origin = Origin("undo", stmt, gate, level=sweep.level)
        _accumulate(sweep, args, contributions, origin)


def _wrt_gradients(sweep: _Sweep, wrt: tuple[str, ...]) -> tuple[str, ...]:
    """The gradients of ``wrt``, in order; one no output reaches is zero."""
    grads: list[str] = []
    for name in wrt:
        grad = sweep.adjoint(name)
        sweep.gradients[name] = grad
        sweep.grad_types[grad] = sweep.type_of(name)
        if name not in sweep.has_grad:
            outputs = ", ".join(sweep.program.outputs)
            sweep.backward.append(
                Stmt(
                    grad,
                    Op("zeros_like", (Var(name),)),
                    origin=Origin("zero", names=(outputs, name), level=sweep.level),
                )
            )
            sweep.has_grad.add(name)
        grads.append(grad)
    return tuple(grads)


def _pruned(
    sweep: _Sweep,
    cotangents: tuple[str, ...],
    wrt: tuple[str, ...],
    grads: tuple[str, ...],
) -> VJP:
    """The VJP of the statements ``grads`` need, with the names and types they use."""
    # a value can reach an output only through an argument whose contribution is
    # None (the shape of a full_like): its gradient is then computed for nothing
    live = live_names(sweep.backward, grads)
    backward = [stmt for stmt in sweep.backward if stmt.target in live]
    kept = {*cotangents, *grads, *(stmt.target for stmt in backward)}
    grad_types = {n: t for n, t in sweep.grad_types.items() if n in kept}
    return VJP(
        sweep.program,
        tuple(backward),
        MappingProxyType(grad_types),
        cotangents,
        wrt,
        grads,
        MappingProxyType({v: g for v, g in sweep.gradients.items() if g in kept}),
    )


def reverse(
    program: Program,
    wrt: tuple[str, ...] | None = None,
    namer: Namer | None = None,
    level: int = 1,
    adjoint: Callable[[str], str] | None = None,
) -> VJP:
    """The reverse mode of a flat, single-assignment program.

    ``wrt`` (default: every float input) must name distinct float inputs; callers check
    user input first (a ``ValueError`` here is a bug).  ``namer`` is the module's
    namer (one is made from the program's names if not given); ``level`` is the
    differentiation's order when programs are differentiated again (gradients of a
    second sweep are ``d2x``: see :class:`codegen.naming.Namer`); ``adjoint``, if
    given, names the gradient of each value instead (a Jacobian row: ``du_dx``).
    """
    wrt = _checked_wrt(program, wrt)
    if namer is None:
        namer = Namer(all_names(program))
    needed = active_names(program, wrt) & live_names(program.stmts, program.outputs)
    if adjoint is None:
        adjoint = functools.partial(namer.grad, level=level)
    cotangents = tuple(adjoint(out) for out in program.outputs)
    types = program.types
    sweep = _Sweep(
        program,
        needed,
        adjoint,
        level,
        gradients=dict(zip(program.outputs, cotangents, strict=True)),
        grad_types={
            cot: types.get(out, SCALAR)
            for out, cot in zip(program.outputs, cotangents, strict=True)
        },
        has_grad=set(program.outputs),
    )
    _undo_all(sweep)
    grads = _wrt_gradients(sweep, wrt)
    return _pruned(sweep, cotangents, wrt, grads)
