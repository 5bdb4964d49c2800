"""``for t in range(4):`` loops, unrolled when parsing.

A loop runs over ``range()`` of integer literals (``range(4)``, ``range(1, 3)``,
``range(0, 8, 2)``); loops nest.  Its body is copied once per iteration, in order,
with the loop variable replaced by that iteration's value as an int literal (integer
arithmetic on it is folded: ``X[t + 1]`` at ``t = 2`` is ``X[3]``), so the rest of the
front end sees a flat list of statements.  Each copied statement keeps its source
positions (messages point at the loop body) and carries its iteration's label
(``t = 2``; nested: ``t = 1, s = 0``), which the module prints as a heading.

The unrolled size is estimated from the source before anything is copied, and a
program that would pass :data:`codegen.parse.MAX_TOKENS` is refused at once.  Every
traversal is iterative.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

from .errors import InputError
from .whitelist import check_name, is_int_literal, node_error

#: how messages name the supported loop
FORM = "loops are written 'for t in range(4):' or 'for t in range(1, 3):'"

_TOKEN = re.compile(r"\w+|[^\w\s]")

#: folded integer arithmetic on the loop variable
_FOLD = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}

_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def has_loops(body: list[ast.stmt]) -> bool:
    return any(isinstance(s, ast.For | ast.While | ast.AsyncFor) for s in body)


def unroll(
    body: list[ast.stmt], where: str, lines: tuple[str, ...], limit: int
) -> list[tuple[ast.stmt, str]]:
    """The program's statements with every loop unrolled, each with its iteration's
    label ("" outside loops); a loop past ``limit`` tokens unrolled is refused."""
    ranges = _headers(body, where)
    _check_size(body, ranges, where, lines, limit)
    variables: dict[str, int] = {}  # loop variable -> the line of its first loop
    for loop in _loops(body):
        variables.setdefault(loop.target.id, loop.lineno)  # type: ignore[attr-defined]
    out: list[tuple[ast.stmt, str]] = []
    stack: list[tuple[ast.stmt, tuple[tuple[str, int], ...]]] = [
        (stmt, ()) for stmt in reversed(body)
    ]
    while stack:
        stmt, env = stack.pop()
        if isinstance(stmt, ast.For):
            name = stmt.target.id  # type: ignore[attr-defined]
            for value in reversed(ranges[id(stmt)]):
                bound = (*env, (name, value))
                stack.extend((s, bound) for s in reversed(stmt.body))
            continue
        label = ", ".join(f"{n} = {v}" for n, v in env)
        out.append((_substituted(stmt, dict(env), variables, where), label))
    return out


def _loops(body: list[ast.stmt]) -> Iterator[ast.For]:
    """Every ``for`` statement, outer ones first."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, ast.For):
            yield stmt
            stack.extend(reversed(stmt.body))


def _headers(body: list[ast.stmt], where: str) -> dict[int, range]:
    """Check every loop's header and the statements of its body; return each loop's
    range (by ``id`` of its node)."""
    ranges: dict[int, range] = {}
    stack: list[tuple[ast.stmt, tuple[str, ...]]] = [(s, ()) for s in reversed(body)]
    while stack:
        stmt, enclosing = stack.pop()
        if isinstance(stmt, ast.While | ast.AsyncFor):
            kind = "while" if isinstance(stmt, ast.While) else "async for"
            raise node_error(f"unsupported statement '{kind}': {FORM}", stmt, where)
        if enclosing and isinstance(stmt, ast.Break | ast.Continue):
            kind = type(stmt).__name__.lower()
            raise node_error(
                f"'{kind}' is not supported: a loop runs every iteration; {FORM}",
                stmt,
                where,
            )
        if enclosing and isinstance(stmt, ast.AnnAssign):
            raise node_error("declare inputs before the loop, not in it", stmt, where)
        if enclosing and isinstance(stmt, ast.Expr):
            raise node_error(
                "a loop's body assigns names (the output is computed after the loop)",
                stmt,
                where,
            )
        if not isinstance(stmt, ast.For):
            continue
        name = _variable(stmt, enclosing, where)
        ranges[id(stmt)] = _range(stmt.iter, where)
        if stmt.orelse:
            raise node_error(
                f"a loop has no 'else' here; {FORM}", stmt.orelse[0], where
            )
        stack.extend((s, (*enclosing, name)) for s in reversed(stmt.body))
    return ranges


def _variable(stmt: ast.For, enclosing: tuple[str, ...], where: str) -> str:
    target = stmt.target
    if not isinstance(target, ast.Name):
        raise node_error(f"a loop variable is one plain name; {FORM}", target, where)
    check_name(target.id, target, where)
    if target.id == "pi":
        raise node_error("'pi' is a constant; name the loop variable t", target, where)
    if target.id in enclosing:
        raise node_error(
            f"'{target.id}' is already the variable of an enclosing loop; "
            "name this one differently",
            target,
            where,
        )
    return target.id


def _range(node: ast.expr, where: str) -> range:
    """``range(4)``, ``range(1, 3)`` or ``range(0, 8, 2)`` of int literals."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
    ):
        over = (
            f", not over {node.id}: write 'for t in range(4):' and read {node.id}[t]"
            if isinstance(node, ast.Name)
            else f" of integer literals; {FORM}"
        )
        raise node_error(f"a loop runs over range(){over}", node, where)
    if node.keywords or not 1 <= len(node.args) <= 3:
        raise node_error(f"range() takes 1 to 3 integer literals; {FORM}", node, where)
    values: list[int] = []
    for arg in node.args:
        if not is_int_literal(arg):
            raise node_error(
                f"range() bounds must be integer literals ({ast.unparse(arg)} is "
                f"not); {FORM}",
                arg,
                where,
            )
        values.append(_int_value(arg))
    if len(values) == 3 and values[2] == 0:
        raise node_error("range() step must not be zero", node.args[2], where)
    found = range(*values)
    if not found:
        raise node_error(
            f"{ast.unparse(node)} has no iterations: the loop would do nothing",
            node,
            where,
        )
    return found


def _int_value(node: ast.expr) -> int:
    if isinstance(node, ast.UnaryOp):
        return -node.operand.value  # type: ignore[attr-defined, no-any-return]
    return node.value  # type: ignore[attr-defined, no-any-return]


def _tokens(node: ast.stmt, lines: tuple[str, ...]) -> int:
    """The tokens of a statement's source text (the estimate ``parse`` limits)."""
    first, last = node.lineno, node.end_lineno or node.lineno
    text = "\n".join(lines[first - 1 : last])
    return sum(1 for _ in _TOKEN.finditer(text))


def _check_size(
    body: list[ast.stmt],
    ranges: dict[int, range],
    where: str,
    lines: tuple[str, ...],
    limit: int,
) -> None:
    """Refuse, before unrolling, a program whose loops unroll past ``limit`` tokens."""
    total = 0
    for stmt in body:
        total += _unrolled_tokens(stmt, ranges, lines)
        if total > limit:
            raise InputError(
                f"input too large: unrolled, the loops are more than {limit:,} "
                "tokens (fewer iterations, or generate several modules)",
                f"{where}:{stmt.lineno}:{stmt.col_offset + 1}",
            )


def _unrolled_tokens(
    root: ast.stmt, ranges: dict[int, range], lines: tuple[str, ...]
) -> int:
    """Tokens of ``root`` unrolled: a loop's body tokens times its iterations."""
    if not isinstance(root, ast.For):
        return _tokens(root, lines)
    sizes: dict[int, int] = {}
    stack: list[tuple[ast.stmt, bool]] = [(root, False)]
    while stack:
        stmt, done = stack.pop()
        if not isinstance(stmt, ast.For):
            sizes[id(stmt)] = _tokens(stmt, lines)
        elif not done:
            stack.append((stmt, True))
            stack.extend((s, False) for s in stmt.body)
        else:
            inner = sum(sizes.pop(id(s)) for s in stmt.body)
            sizes[id(stmt)] = len(ranges[id(stmt)]) * inner
    return sizes[id(root)]


def _substituted(
    root: ast.stmt, env: dict[str, int], variables: dict[str, int], where: str
) -> ast.stmt:
    """A copy of ``root`` with each loop variable of ``env`` an int literal and the
    integer arithmetic on them folded; positions kept.  ``root`` itself outside loops
    (checked only: a loop variable has no value there)."""
    if not env:
        for node in ast.walk(root):
            if isinstance(node, ast.Name) and node.id in variables:
                raise _outside(node, variables, where)
        return root
    built: dict[int, Any] = {}
    folded: set[int] = set()  # ids of the new constants computed from loop variables
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
            continue
        built[id(node)] = _rebuilt(node, built, folded, env, variables, where)
    return _literal(built[id(root)], folded)  # type: ignore[no-any-return]


def _children(node: ast.AST) -> Iterator[ast.AST]:
    for _, value in ast.iter_fields(node):
        if isinstance(value, list):
            yield from (v for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
            yield value


def _outside(node: ast.Name, variables: dict[str, int], where: str) -> InputError:
    return node_error(
        f"'{node.id}' is the variable of the loop on line {variables[node.id]}: it "
        "has a value only inside that loop (use another name here)",
        node,
        where,
    )


def _constant(value: int, node: ast.AST, folded: set[int]) -> ast.Constant:
    """A literal computed from loop variables, placed at ``node`` (no end: its text
    is its value, not the source's)."""
    new = ast.Constant(value=value)
    new.lineno, new.col_offset = node.lineno, node.col_offset  # type: ignore[attr-defined]
    new.end_lineno = new.end_col_offset = None
    folded.add(id(new))
    return new


def _literal(node: Any, folded: set[int]) -> Any:
    """A folded negative constant as the parser writes ``-1``: ``-`` applied to 1."""
    if id(node) in folded and node.value < 0:
        positive = ast.copy_location(ast.Constant(value=-node.value), node)
        return ast.copy_location(ast.UnaryOp(ast.USub(), positive), node)
    return node


def _rebuilt(
    node: ast.AST,
    built: dict[int, Any],
    folded: set[int],
    env: dict[str, int],
    variables: dict[str, int],
    where: str,
) -> Any:
    """The copy of ``node``, its children built already."""
    if isinstance(node, ast.Name) and node.id in variables:
        if node.id not in env:
            raise _outside(node, variables, where)
        if not isinstance(node.ctx, ast.Load):
            raise node_error(
                f"'{node.id}' is the loop variable: it cannot be assigned in its "
                f"loop; {FORM}",
                node,
                where,
            )
        return _constant(env[node.id], node, folded)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        left, right = built[id(node.left)], built[id(node.right)]
        if (id(left) in folded or id(right) in folded) and _ints(left, right):
            value = _FOLD[type(node.op)](left.value, right.value)
            return _constant(value, node, folded)
    if isinstance(node, ast.UnaryOp) and id(built[id(node.operand)]) in folded:
        operand = built[id(node.operand)]
        if isinstance(node.op, ast.USub):
            return _constant(-operand.value, node, folded)
        if isinstance(node.op, ast.UAdd):
            return operand
    fields: dict[str, Any] = {}
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            fields[field] = [
                _literal(built[id(v)], folded) if isinstance(v, ast.AST) else v
                for v in value
            ]
        elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
            fields[field] = _literal(built[id(value)], folded)
        else:
            fields[field] = value
    new = type(node)(**fields)
    for attribute in _POSITION:
        if hasattr(node, attribute):
            setattr(new, attribute, getattr(node, attribute))
    return new


def _ints(*nodes: Any) -> bool:
    return all(isinstance(n, ast.Constant) and type(n.value) is int for n in nodes)
