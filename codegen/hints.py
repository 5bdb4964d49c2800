"""The fix an error or warning names: the spelling that works for what was written.

* :func:`call_hint`: ``np.exp(x)`` -> ``write exp(x)``, ``X.sum(axis=1)`` ->
  ``write sum(X, axis=1)`` (the attribute is the function, a method's object its first
  argument, the keywords kept);
* :func:`statement_problem`: a statement that is not an assignment, a declaration or
  an expression, with the spelling that works (``while`` -> ``for t in range(4):``,
  ``if`` -> ``where(cond, a, b)``);
* :func:`closest`: the nearest of some names to a misspelt one;
* :func:`declare_hint`: ``'W' is not declared, so it is a scalar input: declare it,
  e.g. 'W: array[D, H]'``, for a shape error an undeclared input causes.

Nothing here evaluates user text: suggestions are built from the parsed tree."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Sequence

from .primitives import FUNCTIONS

#: names of libraries whose functions people call out of habit (``np.exp(x)``)
LIBRARIES = frozenset(
    {"np", "numpy", "math", "cmath", "torch", "F", "nn", "functional", "jnp", "jax"}
    | {"scipy", "special", "sp", "tf", "nnf"}
)

#: library spellings of the built-in functions and operators
ALIASES: dict[str, str] = {
    "dot": "@",
    "matmul": "@",
    "mm": "@",
    "power": "**",
    "pow": "**",
    "add": "+",
    "subtract": "-",
    "sub": "-",
    "multiply": "*",
    "mul": "*",
    "divide": "/",
    "div": "/",
    "logistic": "sigmoid",
    "expit": "sigmoid",
    "average": "mean",
    "amax": "max",
    "amin": "min",
}

#: PyTorch's keyword names, as the built-in functions spell them
KEYWORDS = {"dim": "axis", "keepdim": "keepdims"}

#: past this many nodes an argument is shown as ``...``
MAX_NODES = 40


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _shown(node: ast.expr) -> str:
    """The argument as written (short ones; ``...`` for long ones)."""
    count = 0
    for _ in ast.walk(node):
        count += 1
        if count > MAX_NODES:
            return "..."
    return ast.unparse(node)


def call_hint(node: ast.Call) -> str:
    """The built-in spelling of a call whose callee is an attribute, or ""."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return ""
    root = _root(func.value)
    module = isinstance(root, ast.Name) and root.id in LIBRARIES
    name = ALIASES.get(func.attr, func.attr)
    args = [] if module else [_shown(func.value)]
    args += [_shown(a) for a in node.args]
    if name in ("@", "**", "+", "-", "*", "/"):
        if len(args) != 2 or node.keywords:
            return ""
        return f"write {args[0]} {name} {args[1]}"
    if name == "T" or name not in FUNCTIONS:
        return ""
    for kw in node.keywords:
        if kw.arg is None:
            return ""
        args.append(f"{KEYWORDS.get(kw.arg, kw.arg)}={_shown(kw.value)}")
    return f"write {name}({', '.join(args)})"


def attribute_hint(node: ast.Attribute) -> str:
    """``np.pi`` -> ``write pi``; ``np.exp`` without a call -> call it; else ""."""
    if not (isinstance(node.value, ast.Name) and node.value.id in LIBRARIES):
        return ""
    if node.attr == "pi":
        return "write pi"
    if node.attr in FUNCTIONS:
        return f"write {node.attr}(...)"
    return ""


#: statement kind -> the spelling that works instead
_STATEMENT_HINTS: dict[type, str] = {
    ast.If: "for a value chosen by a condition write where(cond, a, b)",
    ast.Import: "nothing needs importing: the functions are built in (write exp(x))",
    ast.ImportFrom: "nothing needs importing: the functions are built in (write exp(x))",
    ast.Return: "the value of the last line is the output: write the expression alone",
    ast.FunctionDef: "write the function's body as the program (its arguments are "
    "the inputs, declared as 'x: float' or 'X: array[N, D]')",
}


def statement_problem(stmt: ast.stmt) -> str:
    """The message refusing a statement of an unsupported kind, with the spelling
    that works where there is one."""
    kind = type(stmt).__name__.lower()
    message = (
        f"unsupported statement '{kind}': only assignments, expressions and loops "
        "'for t in range(4):'"
    )
    hint = _STATEMENT_HINTS.get(type(stmt))
    return f"{message}; {hint}" if hint else message


def closest(name: str, names: Iterable[str]) -> str | None:
    """The name nearest to ``name`` by edit distance, if close (difflib's ratio of at
    least 0.6), else None; ties go to the earlier name."""
    found = difflib.get_close_matches(name, list(dict.fromkeys(names)), n=1)
    return found[0] if found else None


def fresh_dim(taken: Iterable[str]) -> str:
    """A dimension name for an example declaration, not one the program uses."""
    used = set(taken)
    for candidate in ("H", "K", "M", "P", "Q", "R"):
        if candidate not in used:
            return candidate
    index = 1
    while f"K{index}" in used:
        index += 1
    return f"K{index}"


def example_shape(
    prim: str, position: int, shapes: Sequence[tuple | None], taken: Iterable[str]
) -> tuple:
    """A shape that would make ``prim`` work with the argument at ``position`` an
    array: for ``@``, sized to meet the other side; for a transpose a matrix; else the
    other argument's shape; else ``(N,)``."""
    others = [s for i, s in enumerate(shapes) if i != position and s]
    if prim in (".T", "transpose"):
        first = fresh_dim(taken)
        return (first, fresh_dim([*taken, first]))
    if prim in ("matmul", "matvec", "vecmat", "dot") and len(shapes) == 2:
        other = shapes[1 - position]
        if other:
            new = fresh_dim(list(taken) + [str(d) for d in other])
            return (other[-1], new) if position == 1 else (new, other[0])
    if others:
        return tuple(others[0])
    return ("N",)


def declare_hint(name: str, shape: tuple, near: str | None = None) -> str:
    """The fix for an undeclared input that is used as an array (or, when ``near``
    is given, for the typo it may be)."""
    dims = ", ".join(str(d) for d in shape)
    typo = f"did you mean '{near}'? Else " if near else ""
    return (
        f"'{name}' is not declared, so it is a scalar input: {typo}declare it, "
        f"e.g. '{name}: array[{dims}]'"
    )
