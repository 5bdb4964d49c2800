"""Modes of differentiation: what a module's functions compute, as flat programs laid
out in functions (pure data; :mod:`codegen.module` prints them).

Each mode composes the transforms (``reverse``, ``jvp``, ``prepare``, ``prune``); none is
a generator of its own:

* ``grad``: ``forward`` and ``forward_backward`` (reverse mode, a vector-Jacobian
  product: one upstream gradient per output);
* ``jvp``: forward mode, ``jvp(*inputs, *tangents) -> (value, tangent)``;
* ``hvp``: a Hessian-vector product as forward over reverse: the tangent (along the
  vector) of the program that computes the gradient.  Reverse over reverse (the
  lecture's "backpropagating twice") costs a second sweep over the forward *and* the
  backward program plus the tape of both; forward over reverse costs one tangent
  statement per statement of the gradient program, about as much as the gradient
  again, and needs no second tape, so it is the one generated;
* ``hessian``: one forward-mode sweep along each input over the gradient program
  (``H[i][j]`` = the derivative of ``df/dx_i`` along ``x_j``): symmetric as computed,
  never mirrored;
* ``jacobian``: forward mode along each input when there are fewer inputs than
  outputs, reverse mode from each output otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from .backends import Backend
from .compiled import Cache, Function, Grads, Matrix, Section, Values
from .errors import OptionError
from .forward_mode import jvp, push
from .ir import SCALAR, Const, Expr, Op, Origin, Program, Stmt, Type, Var
from .liveness import live_names
from .naming import Namer
from .passes import share, share_derivatives
from .reverse import VJP, reverse

MODES = ("grad", "jvp", "hvp", "hessian", "jacobian")

#: a Hessian or Jacobian is one sweep per input: past this, ask for hvp/jvp instead
MAX_MATRIX_INPUTS = 64


def layer_functions(
    vjp: VJP, name: str, namer: Namer, backend: Backend
) -> tuple[Function, Function]:
    """The CS231n pair: ``<name>_forward(*inputs) -> (out, cache)`` and
    ``<name>_backward(dout, cache) -> grads``: the statements of the flat form cut at
    the forward/backward boundary; the cache is exactly what the backward statements
    read (the VJP's residuals, found by liveness): an array they read only for its
    shape (where the backend says which reads those are) is cached as its shape."""
    primal = vjp.primal
    outputs = primal.outputs
    residuals = vjp.residuals
    shapes = {
        n: namer.fresh(f"{n}_shape")
        for n in residuals
        if n in _read_for_shape(vjp, backend)
    }
    forward = Function(
        f"{name}_forward",
        primal.inputs,
        f"Return ({_names(outputs)}, cache); the cache holds what the backward reads.",
        (Section("", primal.stmts),),
        (Values(outputs), Cache(residuals, shapes)),
    )
    upstream = ", ".join(vjp.cotangents)
    what = (
        "is the upstream gradient"
        if len(outputs) == 1
        else "are the upstream gradients"
    )
    backward = Function(
        f"{name}_backward",
        vjp.cotangents + ("cache",),
        f"Return Grads in WRT order; {upstream} {what}.",
        (Section("", vjp.stmts),),
        (Grads(vjp.grads),),
        unpack=residuals,
        shapes=shapes,
    )
    return forward, backward


def _read_for_shape(vjp: VJP, backend: Backend) -> set[str]:
    """The arrays (declared rank above 0) the backward statements read only for
    their shape, as ``backend.shape_reads`` says its printed code reads them."""
    if backend.standin is None:
        return set()
    reads = backend.shape_reads
    for_shape: set[str] = set()
    for_value: set[str] = set()
    stack: list[Expr] = [stmt.expr for stmt in vjp.stmts]
    while stack:
        node = stack.pop()
        if not isinstance(node, Op):
            continue
        positions = reads.get(node.prim, ())
        for index, arg in enumerate(node.args):
            if isinstance(arg, Var):
                (for_shape if index in positions else for_value).add(arg.name)
            else:
                stack.append(arg)
    types = vjp.primal.types
    return {n for n in for_shape - for_value if n in types and types[n].rank}


def grad_functions(
    vjp: VJP, name: str = "", namer: Namer | None = None, backend: Backend | None = None
) -> tuple[Function, Function]:
    """``forward`` and ``forward_backward``: the value; the value and the gradients
    from one upstream gradient per output (a scalar output's defaults to 1.0)."""
    primal = vjp.primal
    outputs = primal.outputs
    forward = Function(
        "forward",
        primal.inputs,
        f"Return {_names(outputs)}.",
        (Section("", primal.stmts),),
        (Values(outputs),),
    )
    defaults = {}
    if len(outputs) == 1 and not primal.types.get(outputs[0], SCALAR).rank:
        defaults[vjp.cotangents[0]] = "1.0"
    fields = ", ".join(f"{n}={g}" for n, g in zip(vjp.wrt, vjp.grads, strict=True))
    upstream = ", ".join(vjp.cotangents)
    what = (
        "is the upstream gradient"
        if len(outputs) == 1
        else "are the upstream gradients"
    )
    values = _names(outputs)
    forward_backward = Function(
        "forward_backward",
        primal.inputs + vjp.cotangents,
        f"Return ({values}, Grads({fields})); {upstream} {what}.",
        (Section("forward", primal.stmts), Section("backward", vjp.stmts)),
        (Values(outputs), Grads(vjp.grads)),
        defaults,
        short_doc=f"Return ({values}, Grads in WRT order); {upstream} {what}.",
    )
    return forward, forward_backward


def autograd_functions(
    vjp: VJP, name: str = "", namer: Namer | None = None, backend: Backend | None = None
) -> tuple[Function, Function]:
    """A ``torch.autograd.Function``'s ``forward`` and ``backward`` (the statements
    they run untaped; :mod:`codegen.autograd` prints them as the class's methods)."""
    primal = vjp.primal
    outputs = primal.outputs
    forward = Function(
        "Function.forward",
        ("ctx", *primal.inputs),
        "The outputs; saves what backward reads.",
        (Section("forward", primal.stmts),),
        (Values(outputs),),
    )
    backward = Function(
        "Function.backward",
        ("ctx", *vjp.cotangents),
        "One gradient per input (None where there is none or none is needed).",
        (Section("backward", vjp.stmts),),
        (Grads(vjp.grads),),
    )
    return forward, backward


def check_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    """The modes asked for, in :data:`MODES` order (``grad`` always included)."""
    for mode in modes:
        if mode not in MODES:
            raise OptionError(
                f"unknown mode '{mode}' (choose from {', '.join(MODES)})", "--mode"
            )
    asked = {"grad", *modes}
    return tuple(m for m in MODES if m in asked)


def _seed(cotangent: str, output: str, broadcast: bool) -> Stmt:
    """``df = 1.0``: an upstream gradient of 1, shaped like the output where the
    backend evaluates batches (``broadcast``)."""
    one: Expr = Const.of(1.0)
    if broadcast:
        one = Op("broadcast_like", (one, Var(output)))
    return Stmt(cotangent, one, origin=Origin("seed", names=(cotangent,)))


def _upstream_one(vjp: VJP, namer: Namer, broadcast: bool) -> Program:
    """The gradient program of a scalar output with its upstream gradient 1: the
    primal statements, ``df = 1.0``, the backward statements, prepared."""
    (upstream,) = vjp.cotangents
    (output,) = vjp.primal.outputs
    program = vjp.joined(_seed(upstream, output, broadcast), namer)
    # a constant output: nothing reads the seed (dx is a zero fill); drop it (F841)
    stmts = _pruned(program.stmts, program.outputs)
    return Program(program.inputs, stmts, program.outputs, types=program.types)


def _pruned(stmts: tuple[Stmt, ...], outputs: tuple[str, ...]) -> tuple[Stmt, ...]:
    live = live_names(stmts, outputs)
    return tuple(s for s in stmts if s.target in live)


def _split(
    stmts: tuple[Stmt, ...], boundary: set[str], titles: tuple[str, str]
) -> tuple[Section, ...]:
    """Two sections: up to the first statement named in ``boundary``, and the rest."""
    for index, stmt in enumerate(stmts):
        if stmt.target in boundary:
            return (
                Section(titles[0], stmts[:index]),
                Section(titles[1], stmts[index:]),
            )
    return (Section(titles[0], stmts),)


def jvp_function(
    forward: Program, wrt: tuple[str, ...], namer: Namer
) -> tuple[Function, Mapping[str, Type]]:
    result = jvp(forward, wrt, namer)
    outputs = forward.outputs
    stmts = _pruned(result.program.stmts, outputs + result.tangents_out)
    doc = (
        f"Return ({_names(outputs)}, {_names(result.tangents_out)}): value and tangent."
    )
    function = Function(
        "jvp",
        forward.inputs + result.tangents_in,
        doc,
        (Section("forward, each statement followed by its tangent", stmts),),
        (Values(outputs), Values(result.tangents_out)),
    )
    return function, result.program.types


def hvp_function(
    vjp: VJP, namer: Namer, broadcast: bool
) -> tuple[Function, Mapping[str, Type], tuple[str, ...]]:
    """``hvp(*inputs, *vector)``: the value, the gradient and H·v, where the vector
    arguments are the inputs' tangents (``x_dot``)."""
    program = _upstream_one(vjp, namer, broadcast)
    (output,) = vjp.primal.outputs
    grads = program.outputs[1:]
    tangent = jvp(program, vjp.wrt, namer)
    hv = tangent.tangents_out[1:]
    stmts = _pruned(tangent.program.stmts, (output, *grads, *hv))
    backward = {s.target for s in stmts if _from_backward(s)}
    tangents = {s.target for s in stmts if _is_tangent(s)} | set(tangent.tangents_in)
    stmts, moved = share_derivatives(stmts, backward, tangents)
    sections = _split(
        stmts,
        backward - moved,
        ("forward, with tangents", "backward (upstream gradient 1), with tangents"),
    )
    doc = f"Return ({output}, Grads, H·v as Grads); the vector is the input tangents."
    function = Function(
        "hvp",
        vjp.primal.inputs + tangent.tangents_in,
        doc,
        sections,
        (Values((output,)), Grads(grads), Grads(hv)),
    )
    return function, tangent.program.types, tangent.tangents_in


def _from_backward(stmt: Stmt) -> bool:
    origin = stmt.origin
    while origin is not None and origin.kind == "tangent" and origin.stmt is not None:
        origin = origin.stmt.origin
    return origin is not None and origin.kind in ("undo", "seed", "zero")


def hessian_function(
    vjp: VJP, namer: Namer, broadcast: bool
) -> tuple[Function, Mapping[str, Type]]:
    """``hessian(*inputs)``: the value, the gradient and the Hessian, one forward
    sweep along each input over the gradient program."""
    wrt = vjp.wrt
    if len(wrt) > MAX_MATRIX_INPUTS:
        raise OptionError(
            f"a Hessian of {len(wrt)} inputs takes {len(wrt)} sweeps; at most "
            f"{MAX_MATRIX_INPUTS} are generated (use --mode hvp for products with "
            "vectors)",
            "--mode hessian",
        )
    program = _upstream_one(vjp, namer, broadcast)
    (output,) = vjp.primal.outputs
    grads = program.outputs[1:]
    types: dict[str, Type] = dict(program.types)
    sections = list(
        _split(
            program.stmts,
            {s.target for s in program.stmts if _from_backward(s)},
            ("forward", "backward (upstream gradient 1)"),
        )
    )
    columns: list[dict[str, str | None]] = []
    for along in wrt:
        stmts, derived, new_types = push(
            program,
            {along: Const.of(1.0)},
            lambda name, a=along: namer.partial(name, a),
        )
        types.update(new_types)
        tangents = tuple(s for s in stmts if s.origin is not None and _is_tangent(s))
        wanted = derived[1:]
        column: dict[str, str | None] = {}
        kept = _pruned(tangents, wanted)
        for grad, name in zip(grads, wanted, strict=True):
            column[grad] = None if _zero_stmt(kept, name) else name
        kept = tuple(s for s in kept if not _is_zero_fill(s))
        title = f"second derivatives along {along}" + ("" if kept else ": all zero")
        sections.append(Section(title, kept))
        columns.append(column)
    rows = tuple(tuple(col[g] for col in columns) for g in grads)
    doc = f"Return ({output}, Grads, H); H[i][j] = d2{output} / dx_i dx_j in WRT order."
    function = Function(
        "hessian",
        vjp.primal.inputs,
        doc,
        tuple(sections),
        (
            Values((output,)),
            Grads(grads),
            Matrix(rows, namer.fresh("H"), vjp.primal.inputs),
        ),
    )
    return function, types


def _is_tangent(stmt: Stmt) -> bool:
    return stmt.origin is not None and stmt.origin.kind in ("tangent", "tangent-zero")


def _is_zero_fill(stmt: Stmt) -> bool:
    return stmt.origin is not None and stmt.origin.kind == "tangent-zero"


def jacobian_function(
    forward: Program, wrt: tuple[str, ...], namer: Namer, broadcast: bool
) -> tuple[Function, Mapping[str, Type], str]:
    """``jacobian(*inputs)``: the values and ``J[i][j]`` = d out_i / d in_j; forward
    mode along each input when there are fewer inputs than outputs, else reverse
    mode from each output.  Returns the function, the types and the mode used."""
    outputs = forward.outputs
    if len(wrt) > MAX_MATRIX_INPUTS and len(outputs) > MAX_MATRIX_INPUTS:
        raise OptionError(
            f"a Jacobian of {len(outputs)} outputs and {len(wrt)} inputs is too large "
            f"to write out (at most {MAX_MATRIX_INPUTS} sweeps); use --mode jvp or grad",
            "--mode jacobian",
        )
    types: dict[str, Type] = dict(forward.types)
    sections = [Section("forward", forward.stmts)]
    entries: dict[tuple[str, str], str] = {}
    if len(wrt) < len(outputs):
        how = "forward"
        for along in wrt:
            stmts, derived, new_types = push(
                forward,
                {along: Const.of(1.0)},
                lambda name, a=along: namer.partial(name, a),
            )
            types.update(new_types)
            kept = _pruned(tuple(s for s in stmts if _is_tangent(s)), derived)
            for out, name in zip(outputs, derived, strict=True):
                if not _zero_stmt(kept, name):
                    entries[(out, along)] = name
            kept = tuple(s for s in kept if not _is_zero_fill(s))
            title = f"derivatives along {along}" + ("" if kept else ": all zero")
            sections.append(Section(title, kept))
    else:
        how = "reverse"
        for out in outputs:
            single = Program(forward.inputs, forward.stmts, (out,), types=forward.types)
            vjp = share(
                reverse(
                    single,
                    wrt,
                    namer,
                    adjoint=lambda name, o=out: namer.partial(o, name),
                ),
                namer,
            )
            (cot,) = vjp.cotangents
            seed = _seed(cot, out, broadcast)
            types.update(vjp.types)
            stmts = (seed, *vjp.stmts)
            for name, grad in zip(wrt, vjp.grads, strict=True):
                if not _zero_stmt(stmts, grad):
                    entries[(out, name)] = grad
            stmts = tuple(
                s for s in stmts if not (s.origin and s.origin.kind == "zero")
            )
            stmts = _pruned(stmts, tuple(entries.values()))  # an unread seed (F841)
            title = f"derivatives of {out}" + ("" if stmts else ": all zero")
            sections.append(Section(title, stmts))
    rows = tuple(tuple(entries.get((out, x)) for x in wrt) for out in outputs)
    doc = f"Return ({_names(outputs)}, J); J[i][j] = d out_i / d in_j ({how} mode)."
    function = Function(
        "jacobian",
        forward.inputs,
        doc,
        tuple(sections),
        (Values(outputs), Matrix(rows, namer.fresh("J"), forward.inputs)),
    )
    return function, types, how


def _zero_stmt(stmts: tuple[Stmt, ...], name: str) -> bool:
    """Whether ``name`` is defined as a zero fill (its entry is 0)."""
    return any(
        s.target == name
        and s.origin is not None
        and s.origin.kind in ("zero", "tangent-zero")
        for s in stmts
    )


def _names(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"({', '.join(names)})"
