"""Reverse mode: flat program -> flat program (the forward statements, then the backward
statements in mirrored reverse order).

For each forward statement, last to first, its rule turns the gradient of its output
into one contribution per argument.  The first contribution to a gradient defines it
(``dq = df``); later ones accumulate (``dx = dx + ...``: a value used twice, fan-out).
Only what the requested gradients need is emitted: a statement is undone only if its
output depends on a ``wrt`` input and the program's output depends on it.
"""

from __future__ import annotations

from codegen.errors import OptionError
from codegen.ir import Const, Expr, Op, Program, Stmt, Var, all_names, call, names_in
from codegen.naming import Namer, repeated
from codegen.printing import source_statement
from codegen.rules import NO_GRADIENT, rule_for
from codegen.shapes import ELEMENTWISE, SCALAR, Type, unbroadcast_axes


def _require_flat(program: Program) -> None:
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


def _reuse(expr: Expr, known: dict[Expr, str]) -> Expr:
    """Replace subtrees already computed into a named gradient by that name."""
    if expr in known:
        return Var(known[expr])
    if isinstance(expr, Op):
        args = tuple(_reuse(a, known) for a in expr.args)
        if args != expr.args:
            return Op(expr.prim, args, expr.params)
    return expr


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


#: NumPy operations that return a view of their first argument, not a new array
_VIEWS = frozenset({"transpose", "reshape", "reshape_like", "expand_dims", "squeeze"})


def _viewed(expr: Expr) -> str | None:
    """The name whose array ``expr`` is (a name) or shows (a view of a name)."""
    while isinstance(expr, Op) and expr.prim in _VIEWS:
        expr = expr.args[0]
    return expr.name if isinstance(expr, Var) else None


def _unalias(
    backward: list[Stmt], grads: list[str], upstream: str, fresh_upstream: bool
) -> list[Stmt]:
    """Copy returned gradients that alias the upstream array or each other."""
    copies: dict[str, str] = {}  # name -> the name it is a plain copy or a view of
    defining: dict[str, int] = {}
    for index, stmt in enumerate(backward):
        defining[stmt.target] = index
        source = _viewed(stmt.expr)
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

    claimed: set[str] = set()
    if not fresh_upstream:
        claimed.add(upstream)  # the caller's array: never hand it back
    out = list(backward)
    for grad in grads:
        if grad not in copies:
            claimed.add(grad)
            continue
        origin = root(grad)
        if origin in claimed:
            stmt = out[defining[grad]]
            out[defining[grad]] = Stmt(
                stmt.target,
                Op("copy", (stmt.expr,)),
                comment=stmt.comment,
                note=(
                    f"a copy: {origin} is the caller's array"
                    if origin == upstream and not fresh_upstream
                    else "a copy: returned gradients never share an array"
                ),
            )
        else:
            claimed.add(origin)
    return out


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


def reverse(
    program: Program,
    wrt: tuple[str, ...] | None = None,
    broadcast_upstream: bool = False,
    check_upstream: bool = False,
    copy_aliases: bool = False,
) -> tuple[Program, str, tuple[str, ...]]:
    """Return ``(program, upstream, wrt)``: the reverse-mode program, the name of the
    upstream-gradient input (``d<output>``), which it takes as its last input, and the
    inputs differentiated (default: every float input).

    The result's outputs are the primal output followed by the gradients of ``wrt``
    (default: every input) in that order.  ``broadcast_upstream`` (batched scalar
    programs) first shapes the upstream gradient like the output; ``check_upstream``
    (typed array programs) first checks it: ``float(df)`` for a scalar output,
    ``np.broadcast_to(df, f.shape).astype(float)`` (a fresh float array) for an array.
    With ``copy_aliases`` (mutable arrays), a returned gradient that would be the
    caller's upstream array, or the same array as another returned gradient, is
    copied, so updating one in place changes nothing else.
    """
    (output,) = program.outputs
    types = program.types
    _require_flat(program)

    def type_of(name: str) -> Type:
        return types.get(name, SCALAR)

    if wrt is None:
        wrt = tuple(n for n in program.inputs if type_of(n).differentiable)
    for name in wrt:
        if name not in program.inputs:
            raise OptionError(
                f"'{name}' is not an input (inputs: {', '.join(program.inputs) or 'none'})",
                "--wrt",
            )
        if not type_of(name).differentiable:
            raise OptionError(
                f"'{name}' is an {type_of(name).dtype} input: it has no gradient",
                "--wrt",
            )
    twice = repeated(wrt)
    if twice is not None:
        raise OptionError(f"'{twice}' is listed twice", "--wrt")

    # which values depend on a wrt input, and which the output depends on
    active: set[str] = set(wrt)
    for stmt in program.stmts:
        stops = isinstance(stmt.expr, Op) and stmt.expr.prim in NO_GRADIENT
        if (
            not stops
            and type_of(stmt.target).differentiable
            and any(n in active for n in names_in(stmt.expr))
        ):
            active.add(stmt.target)
    live: set[str] = {output}
    for stmt in reversed(program.stmts):
        if stmt.target in live:
            live.update(names_in(stmt.expr))
    needed = active & live

    namer = Namer(all_names(program))
    upstream = namer.grad(output)
    backward: list[Stmt] = []
    grad_types: dict[str, Type] = {}
    if broadcast_upstream and output in needed:
        backward.append(
            Stmt(
                upstream,
                Op("broadcast_like", (Var(upstream), Var(output))),
                comment=f"the upstream gradient {upstream}, shaped like {output}",
            )
        )
    elif check_upstream and output in needed:
        # typed: the caller's gradient must fit the output (a wrong shape fails here)
        if type_of(output).rank:
            check = Op("broadcast_to", (Var(upstream), Var(output)))
            what = f"floats of {output}'s shape (a number is broadcast)"
        else:
            check = Op("as_float", (Var(upstream),))
            what = f"a number, like {output}"
        backward.append(
            Stmt(upstream, check, comment=f"the upstream gradient {upstream}: {what}")
        )
    has_grad: set[str] = {output}
    for stmt in reversed(program.stmts):
        target = stmt.target
        if target not in needed or target not in has_grad:
            continue
        g = Var(namer.grad(target))
        expr = stmt.expr
        if isinstance(expr, Const):
            continue
        if isinstance(expr, Var):
            args: tuple = (expr,)
            contributions: tuple = (g,)
            gate = "copy"
        else:
            assert isinstance(expr, Op)
            rule = rule_for(expr.prim)
            args = expr.args
            contributions = rule.fn(g, Var(target), args, **dict(expr.params))
            gate = rule.gate
            if types and expr.prim in ELEMENTWISE:
                contributions = tuple(
                    (
                        None
                        if c is None or not isinstance(a, Var)
                        else _unbroadcast(c, type_of(target), type_of(a.name))
                    )
                    for a, c in zip(args, contributions, strict=True)
                )
        comment = source_statement(stmt) + (f"  ({gate})" if gate else "")
        defined_here: dict[Expr, str] = {}  # contribution -> the gradient it defined
        for index, (arg, contribution) in enumerate(
            zip(args, contributions, strict=True)
        ):
            if not isinstance(arg, Var) or arg.name not in needed:
                continue
            if contribution is None:
                continue
            name = namer.grad(arg.name)
            reuse = {e: n for e, n in defined_here.items() if n != name}
            if reuse:  # x / y: dy = -dx * out reuses dx = dz / y
                contribution = _reuse(contribution, reuse)
            grad_types[name] = type_of(arg.name)
            accumulate = arg.name in has_grad
            if accumulate:
                contribution = _negation_outside(contribution)
            if (
                accumulate
                and isinstance(contribution, Op)
                and any(
                    _contains(later, contribution)
                    for later in contributions[index + 1 :]
                    if later is not None
                )
            ):
                # x / y with dx accumulating: name dz / y once, for dx and for dy
                part = namer.fresh(f"{name}_part")
                grad_types[part] = type_of(arg.name)
                backward.append(Stmt(part, contribution, comment=comment))
                comment = ""
                defined_here[contribution] = part
                contribution = Var(part)
            if (
                accumulate
                and isinstance(contribution, Op)
                and contribution.prim in ("scatter_add", "unslice")
            ):
                # a scatter-add writes into a fresh array: give it its own name
                part = namer.fresh(f"{name}_part")
                grad_types[part] = type_of(arg.name)
                backward.append(Stmt(part, contribution, comment=comment))
                comment = ""
                contribution = Var(part)
            backward.append(
                Stmt(
                    name,
                    contribution,
                    accumulate=accumulate,
                    comment=comment,
                    note="fan-out: gradients add up" if accumulate else "",
                )
            )
            comment = ""
            if not accumulate and isinstance(contribution, Op):
                defined_here[contribution] = name
            has_grad.add(arg.name)

    grads: list[str] = []
    for name in wrt:
        grad = namer.grad(name)
        if name not in has_grad:
            backward.append(
                Stmt(
                    grad,
                    Op("zeros_like", (Var(name),)),
                    comment=f"{output} does not depend on {name}",
                )
            )
            has_grad.add(name)
        grads.append(grad)
    if copy_aliases:
        typed = any(t.rank for t in types.values())
        mutable = [
            g for g, n in zip(grads, wrt, strict=True) if not typed or type_of(n).rank
        ]
        fresh = broadcast_upstream or check_upstream  # a new array, or a float
        backward = _unalias(backward, mutable, upstream, fresh)

    forward_count = len(program.stmts)
    stmts = program.stmts + tuple(backward)
    all_types = dict(types)
    all_types.update(grad_types)
    all_types[upstream] = type_of(output)
    for name in wrt:
        all_types[namer.grad(name)] = type_of(name)
    result = Program(
        inputs=program.inputs + (upstream,),
        stmts=stmts,
        outputs=(output, *grads),
        sections=(("forward", forward_count), ("backward", len(backward))),
        types=all_types,
    )
    return result, upstream, wrt
