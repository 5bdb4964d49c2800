"""Building blocks the backends' printing tables share: calls of a module's function,
builtins, reductions as methods, indexing, reshapes and joins."""

from __future__ import annotations

from .ir import Op
from .print_core import ATOM, Rule, TablePrinter, Text


def function(module: str, attr: str) -> Rule:
    """``module.attr(args)``: ``np.exp(x)``, ``math.sqrt(x)``."""

    def rule(p: TablePrinter, op: Op) -> Text:
        return p.call(p.ref(module, attr), op.args)

    return rule


def builtin(name: str) -> Rule:
    """A call of a builtin (or, in the source notation, of the user's function)."""

    def rule(p: TablePrinter, op: Op) -> Text:
        return p.call(name, op.args)

    return rule


def same(p: TablePrinter, op: Op) -> Text:
    """The argument itself (a copy of a float, a broadcast that changes nothing)."""
    return p.text(op.args[0])


def axis_text(axis: object) -> str:
    return repr(axis)


def reduce_args(params: dict) -> str:
    parts = []
    if params.get("axis") is not None:
        parts.append(f"axis={axis_text(params['axis'])}")
    if params.get("keepdims"):
        parts.append("keepdims=True")
    return ", ".join(parts)


def method(name: str) -> Rule:
    """A reduction as a method: ``a.sum(axis=0)``, ``a.max(axis=1, keepdims=True)``."""

    def rule(p: TablePrinter, op: Op) -> Text:
        inner = reduce_args(dict(op.params))
        return Text(f"{p.receiver(op.args[0])}.{name}({inner})", ATOM)

    return rule


def transpose(p: TablePrinter, op: Op) -> Text:
    return Text(f"{p.receiver(op.args[0])}.T", ATOM)


def sliced(p: TablePrinter, op: Op) -> Text:
    return Text(f"{p.receiver(op.args[0])}[{op.param('index')}]", ATOM)


def gather(p: TablePrinter, op: Op) -> Text:
    index = ", ".join(p.expr(a) for a in op.args[1:])
    return Text(f"{p.receiver(op.args[0])}[{index}]", ATOM)


def as_float(p: TablePrinter, op: Op) -> Text:
    return p.call("float", op.args)


def reshape(p: TablePrinter, op: Op) -> Text:
    """``a.reshape(B*T, D)``: the ``shape`` param (the arguments after ``a`` are the
    dimension variables it names), or else the arguments after ``a``."""
    shape = op.param("shape")
    dims = (
        shape if isinstance(shape, str) else ", ".join(p.expr(a) for a in op.args[1:])
    )
    return Text(f"{p.receiver(op.args[0])}.reshape({dims})", ATOM)


def reshape_like(p: TablePrinter, op: Op) -> Text:
    like = p.receiver(op.args[1])
    return Text(f"{p.receiver(op.args[0])}.reshape({like}.shape)", ATOM)


def dim_rule(p: TablePrinter, op: Op) -> Text:
    return Text(f"{p.receiver(op.args[0])}.shape[{op.param('axis')}]", ATOM)


# --- new axes, variance, joining: concatenate, stack and their parts ---------------


def joined(name: str, keyword: str) -> Rule:
    """``np.concatenate([a, b], axis=1)``, ``torch.stack([a, b], dim=1)``, ..."""
    module, _, attr = name.rpartition(".")

    def rule(p: TablePrinter, op: Op) -> Text:
        pieces = ", ".join(p.expr(a) for a in op.args)
        callee = p.ref(module, attr) if module else attr
        axis = op.param("axis") or 0
        return Text(f"{callee}([{pieces}], {keyword}={axis})", ATOM)

    return rule


def part(p: TablePrinter, op: Op) -> Text:
    """Argument ``which``'s part of the gradient of a join: ``g[:, 1]`` (stack),
    ``g[:, 3:7]`` (concatenate), the bounds read from the shapes of the arguments
    before it where their sizes are symbolic: ``g[a.shape[0] :]``."""
    g, *joined_args = op.args
    axis, which = op.param("axis") or 0, op.param("which") or 0
    sizes = op.param("sizes")
    lead = ":, " * axis
    if sizes is None:
        return Text(f"{p.receiver(g)}[{lead}{which}]", ATOM)

    def bound(count: int) -> str:
        const = sum(d for d in sizes[:count] if isinstance(d, int))
        terms = [
            f"{p.receiver(a)}.shape[{axis}]"
            for a, d in zip(joined_args[:count], sizes[:count], strict=True)
            if not isinstance(d, int)
        ]
        if const or not terms:
            terms.append(str(const))
        return " + ".join(terms)

    start = "" if which == 0 else bound(which)
    stop = "" if which == len(joined_args) - 1 else bound(which + 1)
    return Text(f"{p.receiver(g)}[{lead}{start}:{stop}]", ATOM)
