"""``--target function``: the module as a ``torch.autograd.Function`` (the lecture's §9).

``forward(ctx, *inputs)`` runs the forward statements and saves what the backward
statements read (the VJP's residuals): tensors with ``ctx.save_for_backward``; numbers
(sizes such as ``N = X.shape[0]``, constants) and the values that may be numbers
(inputs of no declared shape, which a caller may pass as Python numbers as to
PyTorch's own functions, and what is computed from those alone) as ``ctx``
attributes, whichever they are at run time.
``backward(ctx, *grad_outputs)`` runs the backward statements and returns one gradient
per input (``None`` for integer inputs, inputs outside ``WRT`` and inputs whose
``ctx.needs_input_grad`` is false).

Double backward: ``forward`` runs without a tape, so an intermediate it saves is a
constant to autograd, and a backward that read it would give silently wrong second
derivatives.  So when the backward itself is being taped (``torch.is_grad_enabled()``,
as in ``create_graph=True``), it first recomputes the intermediates it reads from the
saved inputs, on the tape; otherwise it uses the saved ones.  The module says so in
the class docstring.
"""

from __future__ import annotations

from .compiled import Compiled, Grads
from .ir import Const, Var
from .liveness import live_names
from .module import _lines, io_constants
from .module import function_view as plain_function_view
from .primitives import FROM_NUMBERS, plain_number
from .printing import Printer
from .render import FunctionView, ModuleView

CLASS_DOC = "Saves what backward reads; a taped backward recomputes it from the inputs."


def _plain_names(compiled: Compiled) -> set[str]:
    """Names holding Python numbers rather than tensors: sizes, constants and what is
    computed from them alone (every input is a tensor, integer labels included)."""
    forward = compiled.forward
    plain: set[str] = set()
    for stmt in forward.stmts:
        if plain_number(stmt.expr, plain):
            plain.add(stmt.target)
    return plain


def _number_names(compiled: Compiled, plain: set[str]) -> set[str]:
    """The names that hold numbers or may: ``plain``, the inputs of no declared shape
    and what is computed from those and ``plain`` alone (outputs excepted: an output
    kept on ``ctx`` would hold ``ctx`` through its ``grad_fn``)."""
    forward = compiled.forward
    types = forward.types
    numbers = set(plain)
    numbers.update(n for n in forward.inputs if n not in types or not types[n].rank)
    for stmt in forward.stmts:
        expr = stmt.expr
        if isinstance(expr, Var | Const):
            args: tuple = (expr,)
        elif expr.prim in FROM_NUMBERS:
            continue
        else:
            args = expr.args
        if all(isinstance(a, Const) or a.name in numbers for a in args):
            numbers.add(stmt.target)
    return numbers - set(forward.outputs)


def _unpack(names: list[str], source: str) -> str:
    if len(names) == 1:
        return f"({names[0]},) = {source}"
    return f"{', '.join(names)} = {source}"


def function_view(compiled: Compiled, doc: list[str]) -> ModuleView:
    forward, vjp = compiled.forward, compiled.vjp
    printer = Printer(compiled.backend.name)
    types = compiled.types
    plain = _plain_names(compiled)
    inputs = forward.inputs
    residuals = list(vjp.residuals)
    intermediates = [n for n in residuals if n not in inputs]
    # recomputed on the tape: the forward statements the read intermediates need
    needed = live_names(forward.stmts, intermediates)
    recompute = tuple(s for s in forward.stmts if s.target in needed)
    read_inputs = [n for n in inputs if n in needed or n in residuals]
    numbers = _number_names(compiled, plain)
    saved = [n for n in read_inputs + intermediates if n not in numbers]
    kept = [n for n in read_inputs + intermediates if n in numbers]

    body: list[str] = ["# forward", *_lines(printer, forward.stmts, types, 8)]
    if saved:
        body.append(f"ctx.save_for_backward({', '.join(saved)})")
    body += [f"ctx.{n} = {n}" for n in kept]
    outputs = forward.outputs
    returns = outputs[0] if len(outputs) == 1 else ", ".join(outputs)
    forward_view = FunctionView(
        f"forward(ctx, {', '.join(inputs)})",
        "The outputs; saves what backward reads.",
        tuple(body),
        returns,
    )

    back: list[str] = []
    if saved:
        back.append(_unpack(saved, "ctx.saved_tensors"))
    back += [f"{n} = ctx.{n}" for n in kept]
    taped = list(recompute)
    if any(s.target not in plain for s in taped):
        back.append("if torch.is_grad_enabled():")
        back.append("    # taped (double backward): recompute the intermediates on it")
        back += ["    " + line for line in _lines(printer, tuple(taped), types, 12)]
    back += ["", "# backward", *_lines(printer, vjp.stmts, types, 8)]
    grads = dict(zip(vjp.wrt, vjp.grads, strict=True))
    returned = []
    for index, name in enumerate(inputs):
        if name in grads:
            needs = f"ctx.needs_input_grad[{index}]"
            returned.append(f"{grads[name]} if {needs} else None")
        else:
            returned.append("None")
    printer.ref("torch", "autograd")
    beside_functions = compiled.functions[2:]  # after Function's forward, backward
    beside = tuple(
        plain_function_view(f, printer, types, compiled.backend.matrix)
        for f in beside_functions
    )
    # hvp returns its gradients as Grads, like a flat module's functions
    grads_type = any(isinstance(r, Grads) for f in beside_functions for r in f.returns)
    stdlib = ("from collections import namedtuple",) if grads_type else ()
    constants = io_constants(compiled)
    if grads_type:
        constants.append('Grads = namedtuple("Grads", WRT)')
    if len(returned) == 1:
        result = returned[0]
    else:
        result = ", ".join(f"({r})" if " if " in r else r for r in returned)
    backward_view = FunctionView(
        f"backward(ctx, {', '.join(vjp.cotangents)})",
        "One gradient per input (None where there is none or none is needed).",
        tuple(back),
        result,
    )
    return ModuleView(
        "\n".join(doc),
        printer.imports(*stdlib),
        tuple(constants),
        (forward_view, backward_view),
        template="function.py.jinja",
        class_doc=CLASS_DOC,
        beside=beside,
    )
