"""What the builder reads of the syntax tree besides its values: a call as a lowering
sees it, a node's children in evaluation order, and arguments read as written."""

from __future__ import annotations

import ast
from typing import NamedTuple

from .ir import Atom
from .whitelist import is_int_literal, is_new_axis


class Call(NamedTuple):
    """A call of a user function, its arguments linearized: what a lowering sees."""

    node: ast.Call
    name: str
    args: tuple[Atom, ...]
    options: dict  # keyword -> literal value (axis=1, keepdims=True)
    target: str | None

    @property
    def params(self) -> tuple[tuple[str, object], ...]:
        return tuple(sorted(self.options.items()))


def children(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, node.comparators[0]]
    if isinstance(node, ast.Attribute):
        return [node.value]
    if isinstance(node, ast.Subscript):
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if all(map(static_item, items)):
            return [node.value]
        return [
            node.value,
            *(i for i in items if not (isinstance(i, ast.Slice) or is_new_axis(i))),
        ]
    assert isinstance(node, ast.Call)
    if node.args and isinstance(node.args[0], ast.List):  # concatenate([a, b])
        return [*node.args[0].elts, *node.args[1:]]
    if isinstance(node.func, ast.Name) and node.func.id == "reshape":
        return list(node.args[:1])  # the sizes are read by the lowering
    return [a for a in node.args if not literal_argument(a)]


def literal_argument(node: ast.expr) -> bool:
    """An argument its lowering reads as written (an einsum spec, transpose's axes),
    not a value."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Tuple)


def static_item(item: ast.expr) -> bool:
    """An item of a static index (the ``slice`` primitive): a slice, an integer
    literal or None (a new axis)."""
    return isinstance(item, ast.Slice) or is_int_literal(item) or is_new_axis(item)


def literal_value(node: ast.expr) -> object:
    """The value of a whitelisted literal option (checked by ``whitelist._literal_option``
    and ``whitelist._OPTION_CHECKS``)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        assert isinstance(node.operand, ast.Constant)
        return -node.operand.value
    assert isinstance(node, ast.Tuple)
    return tuple(literal_value(e) for e in node.elts)
