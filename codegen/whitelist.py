"""The expressions a program may write: every node of an expression is checked against
a whitelist, by the check of its type (:data:`_NODE_CHECKS`), before anything is built
from it; nothing the user wrote is evaluated."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from .dims import SizeProblem, from_ast
from .errors import InputError
from .hints import attribute_hint, call_hint
from .naming import VALUE_NAMES_TOO, name_problem
from .primitives import FUNCTIONS, JOINS

COMPARE: dict[type, str] = {
    ast.Gt: "gt",
    ast.Lt: "lt",
    ast.Eq: "eq",
    ast.GtE: "ge",
    ast.LtE: "le",
    ast.NotEq: "ne",
}

BINOPS: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
}

_UNSUPPORTED_BINOPS: dict[type, str] = {
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.BitAnd: "'&'",
    ast.BitOr: "'|'",
    ast.BitXor: "'^' (for powers use '**')",
}

_DESCRIBE: dict[type, str] = {
    ast.BoolOp: "boolean operator",
    ast.Lambda: "lambda",
    ast.IfExp: "conditional expression",
    ast.ListComp: "list comprehension",
    ast.GeneratorExp: "generator expression",
    ast.Tuple: "tuple",
    ast.List: "list (a list [a, b] is only the first argument of concatenate() "
    "and stack())",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.Starred: "starred expression",
    ast.NamedExpr: "':=' assignment",
    ast.JoinedStr: "f-string",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slice",
}


def node_error(message: str, node: ast.AST, where: str) -> InputError:
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0) + 1
    return InputError(message, f"{where}:{line}:{col}")


def check_name(name: str, node: ast.AST, where: str) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise node_error(problem, node, where)


def is_int_literal(node: ast.expr) -> bool:
    """An int literal, or a negated one (``True`` and ``False`` are not ints here)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _literal_option(node: ast.expr) -> bool:
    """Static indices and reshape sizes: ints, -ints, None, tuples of ints."""
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if is_int_literal(node):
        return True
    if isinstance(node, ast.Tuple):
        return all(_literal_option(e) for e in node.elts)
    return False


def _axis_problem(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and node.value is None:
        return ""
    if is_int_literal(node):
        return ""
    if (
        isinstance(node, ast.Tuple)
        and node.elts
        and all(map(is_int_literal, node.elts))
    ):
        return ""
    return "must be an int, a tuple of ints or None"


def _keepdims_problem(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and type(node.value) is bool:
        return ""
    return "must be True or False"


_OPTION_CHECKS = {"axis": _axis_problem, "keepdims": _keepdims_problem}


#: the ids of where()'s first arguments met so far: comparisons allowed there
_Conditions = set[int]


def _check_binop(node: ast.BinOp, where: str, _: _Conditions) -> list[ast.AST]:
    op = type(node.op)
    if op not in BINOPS:
        what = _UNSUPPORTED_BINOPS.get(op, f"'{op.__name__}'")
        raise node_error(f"unsupported operator {what}", node, where)
    return [node.left, node.right]


def _check_unaryop(node: ast.UnaryOp, where: str, _: _Conditions) -> list[ast.AST]:
    if not isinstance(node.op, ast.USub | ast.UAdd):
        sym = "not" if isinstance(node.op, ast.Not) else "'~'"
        raise node_error(f"unsupported operator {sym}", node, where)
    return [node.operand]


def _check_callee(node: ast.Call, where: str) -> str:
    """The name of the function called: a known one."""
    func = node.func
    if not isinstance(func, ast.Name):
        hint = call_hint(node)
        known = f"({', '.join(sorted(FUNCTIONS))})"
        raise node_error(
            (
                f"only the built-in functions can be called: {hint}"
                if hint
                else f"only the built-in functions can be called {known}"
            ),
            node,
            where,
        )
    if func.id not in FUNCTIONS:
        raise node_error(
            f"unknown function '{func.id}' (known: {', '.join(sorted(FUNCTIONS))})",
            func,
            where,
        )
    return func.id


def _check_keywords(node: ast.Call, name: str, where: str) -> None:
    keywords = FUNCTIONS[name][2]
    seen: set[str] = set()
    for kw in node.keywords:
        if kw.arg not in keywords:
            what = f"keyword '{kw.arg}'" if kw.arg else "'**' arguments"
            raise node_error(f"{name}() takes no {what}", kw.value, where)
        if kw.arg in seen:
            raise node_error(f"{name}() is given '{kw.arg}' twice", kw.value, where)
        seen.add(kw.arg)
        problem = _OPTION_CHECKS[kw.arg](kw.value)
        if problem:
            raise node_error(f"{name}({kw.arg}=...) {problem}", kw.value, where)


def _check_arity(node: ast.Call, name: str, where: str) -> None:
    low, high, _ = FUNCTIONS[name]
    n = len(node.args)
    if n >= low and (high is None or n <= high):
        return
    if name in ("max", "min") and high is not None:
        want = f"one array or 2 to {high} values"
    elif high is None:
        want = f"{low} or more arguments"
    elif low == high:
        want = f"{low} argument" + ("s" if low != 1 else "")
    else:
        want = f"{low} to {high} arguments"
    hint = ""
    if name in ("max", "min") and high is not None and n > high:
        hint = f"; nest them for more: {name}({name}(...), ...)"
    if name == "transpose":
        hint = _TRANSPOSE_HINT
    raise node_error(f"{name}() takes {want}, got {n}{hint}", node, where)


def _check_call(node: ast.Call, where: str, conditions: _Conditions) -> list[ast.AST]:
    name = _check_callee(node, where)
    _check_keywords(node, name, where)
    _check_arity(node, name, where)
    if name == "reshape":
        for dim in node.args[1:]:
            _check_size(dim, where)
        return [node.args[0]]
    if name in JOINS:
        return _joined_arrays(node, name, where)
    if name == "where":
        conditions.add(id(node.args[0]))
    if name in _STATIC_ARGUMENTS:
        return _STATIC_ARGUMENTS[name](node, where)
    for arg in reversed(node.args):
        if isinstance(arg, ast.Starred):
            raise node_error("starred arguments are not supported", arg, where)
    return list(node.args)


def _check_name_node(node: ast.Name, where: str, _: _Conditions) -> list[ast.AST]:
    if node.id in FUNCTIONS and node.id not in VALUE_NAMES_TOO:
        raise node_error(
            f"'{node.id}' is a function; call it as {node.id}(...)", node, where
        )
    if node.id != "pi":
        check_name(node.id, node, where)
    return []


def _check_compare(
    node: ast.Compare, where: str, conditions: _Conditions
) -> list[ast.AST]:
    if id(node) not in conditions:
        raise node_error(
            "unsupported syntax: comparison (comparisons are only allowed as "
            "the condition of where(cond, a, b))",
            node,
            where,
        )
    if len(node.ops) != 1 or type(node.ops[0]) not in COMPARE:
        raise node_error(
            "only single comparisons (a > b, a == b, ...) are supported", node, where
        )
    return [node.left, node.comparators[0]]


def _check_attribute(node: ast.Attribute, where: str, _: _Conditions) -> list[ast.AST]:
    if node.attr not in ("T", "mT"):
        hint = attribute_hint(node)
        raise node_error(
            f"unsupported syntax: attribute access '.{node.attr}' "
            + (
                f"({hint})"
                if hint
                else "(only '.T', the transpose, and '.mT', the last two axes swapped)"
            ),
            node,
            where,
        )
    return [node.value]


def is_new_axis(node: ast.expr) -> bool:
    """``None`` in a subscript: a new axis of size 1 (``a[:, None]``)."""
    return isinstance(node, ast.Constant) and node.value is None


def _check_subscript(node: ast.Subscript, where: str, _: _Conditions) -> list[ast.AST]:
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    indices: list[ast.AST] = []
    for item in reversed(items):
        if is_new_axis(item):
            continue
        if isinstance(item, ast.Slice):
            for part in (item.lower, item.upper):
                if part is not None and not is_int_literal(part):
                    _check_size(part, where)
            if item.step is not None and not is_int_literal(item.step):
                raise node_error("a slice step is an integer literal", item.step, where)
        elif item is not None:
            indices.append(item)
    return [node.value, *reversed(indices)]


def _check_size(node: ast.expr, where: str) -> None:
    """A size written in the program (a reshape dimension, a slice bound): dimension
    names and integers with + - * and // (see :func:`codegen.dims.from_ast`)."""
    try:
        from_ast(node)
    except SizeProblem as problem:
        raise node_error(str(problem), problem.node, where) from None
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            check_name(part.id, part, where)


def _check_constant(node: ast.Constant, where: str, _: _Conditions) -> list[ast.AST]:
    value = node.value
    if value is None:
        raise node_error(
            "None is allowed only in a subscript, as a new axis of size 1 (a[:, None])",
            node,
            where,
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise node_error(
            f"unsupported literal {value!r}: only int and float numbers", node, where
        )
    return []


#: node type -> its check, which returns the nodes below it to check, in order
_NODE_CHECKS: dict[type, Callable[[Any, str, _Conditions], list[ast.AST]]] = {
    ast.BinOp: _check_binop,
    ast.UnaryOp: _check_unaryop,
    ast.Call: _check_call,
    ast.Name: _check_name_node,
    ast.Compare: _check_compare,
    ast.Attribute: _check_attribute,
    ast.Subscript: _check_subscript,
    ast.Constant: _check_constant,
}


def check_expr(root: ast.expr, where: str) -> None:
    """Whitelist every node below ``root`` (iterative: sums may be 100,000 deep),
    each by the check of its type in :data:`_NODE_CHECKS`."""
    stack: list[ast.AST] = [root]
    conditions: _Conditions = set()
    while stack:
        node = stack.pop()
        check = _NODE_CHECKS.get(type(node))
        if check is None:
            what = _DESCRIBE.get(type(node), type(node).__name__)
            raise node_error(f"unsupported syntax: {what}", node, where)
        stack.extend(reversed(check(node, where, conditions)))


# --- new axes, variance, joining -----------------------------------------------------


def _joined_arrays(node: ast.Call, name: str, where: str) -> list[ast.AST]:
    """``concatenate([a, b, ...])``: a list literal of one or more expressions."""
    (arrays,) = node.args
    if not isinstance(arrays, ast.List) or not arrays.elts:
        raise node_error(
            f"{name}() takes a list of arrays: {name}([a, b], axis=0)", arrays, where
        )
    for item in arrays.elts:
        if isinstance(item, ast.Starred):
            raise node_error("starred arguments are not supported", item, where)
    return list(arrays.elts)


# --- batched linear algebra and einsum: arguments that are literals, never evaluated -

_TRANSPOSE_HINT = (
    "; to swap two axes write swapaxes(a, i, j), to permute them "
    "transpose(a, (0, 2, 1)), for the last two a.mT"
)


def _swapaxes_args(node: ast.Call, where: str) -> list[ast.AST]:
    """``swapaxes(a, i, j)``: i and j are integer literals."""
    for axis in node.args[1:]:
        if not is_int_literal(axis):
            raise node_error("swapaxes() axes are integer literals", axis, where)
    return [node.args[0]]


def _transpose_args(node: ast.Call, where: str) -> list[ast.AST]:
    """``transpose(a)`` or ``transpose(a, (1, 0, 2))``: a tuple of integer literals."""
    if len(node.args) == 2:
        axes = node.args[1]
        if not (
            isinstance(axes, ast.Tuple)
            and axes.elts
            and all(map(is_int_literal, axes.elts))
        ):
            raise node_error(
                "transpose(a, axes) takes a tuple of integer literals as its axes"
                + _TRANSPOSE_HINT,
                axes,
                where,
            )
    return [node.args[0]]


def _einsum_args(node: ast.Call, where: str) -> list[ast.AST]:
    """``einsum("ij,jk->ik", a, b)``: the spec is a string literal (parsed by
    :mod:`codegen.einsum`, never evaluated); the operands are expressions."""
    spec = node.args[0]
    if not (isinstance(spec, ast.Constant) and isinstance(spec.value, str)):
        raise node_error(
            "einsum() takes a string literal as its first argument "
            '(einsum("ij,jk->ik", a, b))',
            spec,
            where,
        )
    for arg in node.args[1:]:
        if isinstance(arg, ast.Starred):
            raise node_error("starred arguments are not supported", arg, where)
    return list(node.args[1:])


#: functions with literal arguments, checked here and read by their lowerings:
#: name -> the check, which returns the arguments that are expressions
_STATIC_ARGUMENTS: dict[str, Callable[[ast.Call, str], list[ast.AST]]] = {
    "swapaxes": _swapaxes_args,
    "transpose": _transpose_args,
    "einsum": _einsum_args,
}


# --- convolution and pooling: sizes are integer literals ------------------------------


def _int_at_least(low: int) -> Callable[[ast.expr], str]:
    def problem(node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            if node.value >= low:
                return ""
        return f"must be an integer literal >= {low}"

    return problem


_OPTION_CHECKS.update({"stride": _int_at_least(1), "padding": _int_at_least(0)})


def _pool_args(node: ast.Call, where: str) -> list[ast.AST]:
    """``max_pool2d(x, 2)``: the window size is an integer literal >= 1."""
    name = node.func.id  # type: ignore[attr-defined]
    size = node.args[1]
    if _int_at_least(1)(size):
        raise node_error(
            f"{name}() window size must be an integer literal >= 1 ({name}(x, 2))",
            size,
            where,
        )
    return [node.args[0]]


_STATIC_ARGUMENTS.update({"max_pool2d": _pool_args, "avg_pool2d": _pool_args})
