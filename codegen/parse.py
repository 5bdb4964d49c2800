"""Source text -> validated Python syntax tree, through an ``ast`` whitelist.

Nothing here evaluates user text: the text is parsed by :func:`ast.parse` and every node
is checked against a whitelist before :mod:`codegen.linearize` builds the graph from it.

Accepted (one statement per line or separated by ``;``; ``#`` comments):

* ``name = expression``; a name may be assigned again (Python's meaning: later
  statements read the newest value), and ``name += expression`` (``-=``, ``*=``,
  ``/=``) is ``name = name + (expression)``;
* ``name: float`` declares an input (fixes the input order);
* one bare expression, as the last statement (its value is the output).

Expressions: ``+ - * / **``, unary ``-``/``+``, parentheses, int/float literals, ``pi``,
and calls of the functions in :data:`codegen.primitives.FUNCTIONS`.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import sys
import threading
import tokenize
from dataclasses import dataclass

from codegen.errors import InputError
from codegen.naming import name_problem
from codegen.primitives import FUNCTIONS

#: past this many tokens the input is refused at once: generation is linear, but about
#: 25 kB of memory and 0.1 ms per operation (a sum of 100,000 inputs, 200,000 tokens,
#: takes 20 s and 2.5 GB), so 1,000,000 tokens (up to about 500,000 operations) is
#: what one module of one machine holds
MAX_TOKENS = 1_000_000


SCALAR_TYPES = frozenset({"float", "scalar"})
ARRAY_TYPES = {"array": "float", "int": "int"}

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
    ast.List: "list",
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


#: the augmented assignments accepted (``loss += ...``), as binary operators
AUGMENTED: dict[type, str] = {
    ast.Add: "+=",
    ast.Sub: "-=",
    ast.Mult: "*=",
    ast.Div: "/=",
}


@dataclass(frozen=True)
class Statement:
    """One source statement: ``target = value`` (target None for a bare expression).

    ``loss += e`` is kept as ``loss = loss + (e)`` with ``augmented`` set to ``"+="``
    (for messages: it reads ``loss``, which must hold a value already)."""

    target: str | None
    value: ast.expr
    line: int
    augmented: str = ""


Dim = int | str


@dataclass(frozen=True)
class Decl:
    """``name: float`` (shape ``()``), ``X: array[N, D]`` or ``y: int[N]``."""

    dtype: str  # "float" or "int"
    shape: tuple[Dim, ...]
    line: int


@dataclass(frozen=True)
class Parsed:
    statements: tuple[Statement, ...]
    declared: tuple[str, ...]
    where: str
    lines: tuple[str, ...]
    decls: tuple[tuple[str, Decl], ...] = ()
    #: ``u, v`` as the last line: the program's outputs, in that order (None: the
    #: last statement's value is the one output); with the line they are named on
    outputs: tuple[str, ...] | None = None
    outputs_line: int = 0


def _deep_parse(text: str, filename: str) -> ast.Module:
    """``ast.parse`` with room for long chains (``x0 + x1 + ... + x99999``).

    CPython builds the tree recursively; a thread with a large stack and a raised
    recursion limit lets it handle the depth a long sum produces.
    """
    result: list[ast.Module] = []
    error: list[BaseException] = []

    def work() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 1_000_000))
        try:
            result.append(ast.parse(text, filename=filename, mode="exec"))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)
        finally:
            sys.setrecursionlimit(old)

    old_size = threading.stack_size()
    threading.stack_size(1024 * 1024 * 1024)
    try:
        thread = threading.Thread(target=work, name="backpropgen-parse")
        thread.start()
    finally:
        threading.stack_size(old_size)
    thread.join()
    if error:
        raise error[0]
    return result[0]


_TOKEN = re.compile(r"\w+|[^\w\s]")


def _count_tokens(text: str, where: str) -> None:
    """Refuse input past :data:`MAX_TOKENS` at once (a C-speed over-estimate)."""
    count = 0
    for count, _ in enumerate(_TOKEN.finditer(text), start=1):
        if count > MAX_TOKENS:
            raise InputError(
                f"input too large: more than {MAX_TOKENS:,} tokens "
                "(generate several modules, one per part of the program)",
                where,
            )


def _keyword_in(text: str) -> tuple[str, int, int] | None:
    """The first Python keyword used in the text, with its 1-based line and column."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
                return tok.string, tok.start[0], tok.start[1] + 1
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return None


def parse(text: str, where: str = "<expr>") -> Parsed:
    """Parse and validate source text; raise :class:`InputError` on anything else."""
    lines = tuple(text.splitlines())
    if not text.strip() or all(
        not ln.strip() or ln.strip().startswith("#") for ln in lines
    ):
        raise InputError("empty input: nothing to differentiate", where)
    if "\0" in text:
        raise InputError("input contains a NUL byte", where)
    _count_tokens(text, where)
    try:
        module = _deep_parse(text, where)
    except SyntaxError as exc:
        found = _keyword_in(text)
        if found is not None:
            word, line, col = found
            raise InputError(
                f"'{word}' is a Python keyword and cannot be used here",
                f"{where}:{line}:{col}",
                _line(lines, line),
                col,
            ) from None
        line = exc.lineno or 1
        col = exc.offset or 1
        raise InputError(
            f"syntax error: {exc.msg}",
            f"{where}:{line}:{col}",
            _line(lines, line),
            col,
        ) from None
    except (RecursionError, MemoryError):
        raise InputError(
            "expression nested too deeply to parse; split it into statements", where
        ) from None
    return _validate(module, where, lines)


def _line(lines: tuple[str, ...], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _err(message: str, node: ast.AST, where: str) -> InputError:
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0) + 1
    return InputError(message, f"{where}:{line}:{col}")


def _check_name(name: str, node: ast.AST, where: str) -> None:
    problem = name_problem(name)
    if problem is not None:
        raise _err(problem, node, where)


def _validate(module: ast.Module, where: str, lines: tuple[str, ...]) -> Parsed:
    statements: list[Statement] = []
    declared: list[str] = []
    decls: list[tuple[str, Decl]] = []
    outputs: tuple[str, ...] | None = None
    outputs_line = 0
    body = module.body
    if not body:
        raise InputError("empty input: nothing to differentiate", where)
    for index, stmt in enumerate(body):
        last = index == len(body) - 1
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise _err(
                    "each statement assigns one plain name (no tuples, no chains)",
                    stmt,
                    where,
                )
            target = stmt.targets[0].id
            _check_name(target, stmt.targets[0], where)
            _check_expr(stmt.value, where)
            statements.append(Statement(target, stmt.value, stmt.lineno))
        elif isinstance(stmt, ast.AugAssign):
            statements.append(_augmented(stmt, where))
        elif isinstance(stmt, ast.AnnAssign):
            if not isinstance(stmt.target, ast.Name) or stmt.value is not None:
                raise _err(
                    "a declaration is 'name: float' on its own (no value)", stmt, where
                )
            name = stmt.target.id
            _check_name(name, stmt.target, where)
            decl = _declaration(stmt.annotation, stmt.lineno, where)
            if name in declared:
                raise _err(f"input '{name}' is declared twice", stmt, where)
            if any(s.target == name for s in statements):
                raise _err(
                    f"'{name}' is assigned before it is declared as an input",
                    stmt,
                    where,
                )
            declared.append(name)
            decls.append((name, decl))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Tuple):
            # u, v: several outputs, named on the last line
            if not last:
                raise _err(
                    "a list of outputs ('u, v') is only allowed as the last line",
                    stmt,
                    where,
                )
            names = []
            for item in stmt.value.elts:
                if not isinstance(item, ast.Name):
                    raise _err(
                        "the outputs line names assigned values: 'u, v'", item, where
                    )
                _check_name(item.id, item, where)
                if item.id in names:
                    raise _err(f"output '{item.id}' is listed twice", item, where)
                names.append(item.id)
            if not names:
                raise _err("an empty list of outputs", stmt, where)
            outputs, outputs_line = tuple(names), stmt.lineno
        elif isinstance(stmt, ast.Expr):
            if not last:
                raise _err(
                    "a bare expression is only allowed as the last statement "
                    "(assign it to a name: 'q = ...')",
                    stmt,
                    where,
                )
            _check_expr(stmt.value, where)
            statements.append(Statement(None, stmt.value, stmt.lineno))
        else:
            kind = type(stmt).__name__.lower()
            raise _err(
                f"unsupported statement '{kind}': only assignments and expressions",
                stmt,
                where,
            )
    if not statements:
        raise InputError("no statements: nothing to differentiate", where)
    return Parsed(
        tuple(statements),
        tuple(declared),
        where,
        lines,
        tuple(decls),
        outputs,
        outputs_line,
    )


def _augmented(stmt: ast.AugAssign, where: str) -> Statement:
    """``name += e`` (``-= *= /=``) as ``name = name + (e)``, the read of ``name``
    placed where the target is written (for messages)."""
    if not isinstance(stmt.target, ast.Name):
        raise _err("an augmented assignment updates one plain name", stmt, where)
    op = AUGMENTED.get(type(stmt.op))
    if op is None:
        symbols = {ast.Pow: "**", ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%"}
        sign = symbols.get(type(stmt.op), type(stmt.op).__name__)
        raise _err(
            f"unsupported augmented assignment '{sign}=' (only += -= *= /=; "
            "write it out: 'a = a ** b')",
            stmt,
            where,
        )
    name = stmt.target.id
    _check_name(name, stmt.target, where)
    _check_expr(stmt.value, where)
    read = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), stmt.target)
    value = ast.copy_location(ast.BinOp(left=read, op=stmt.op, right=stmt.value), stmt)
    return Statement(name, value, stmt.lineno, op)


def _declaration(kind: ast.expr, line: int, where: str) -> Decl:
    usage = (
        "unsupported declaration: write 'x: float' for a scalar, "
        "'X: array[N, D]' for a float array, 'y: int[N]' for integer labels"
    )
    if isinstance(kind, ast.Name):
        if kind.id in SCALAR_TYPES:
            return Decl("float", (), line)
        if kind.id == "int":
            return Decl("int", (), line)
        raise _err(usage, kind, where)
    if not (
        isinstance(kind, ast.Subscript)
        and isinstance(kind.value, ast.Name)
        and kind.value.id in ARRAY_TYPES
    ):
        raise _err(usage, kind, where)
    items = kind.slice.elts if isinstance(kind.slice, ast.Tuple) else [kind.slice]
    dims: list[Dim] = []
    for item in items:
        if isinstance(item, ast.Name) and item.id.isidentifier():
            _check_name(item.id, item, where)
            dims.append(item.id)
        elif (
            isinstance(item, ast.Constant)
            and isinstance(item.value, int)
            and not isinstance(item.value, bool)
            and item.value >= 1
        ):
            dims.append(item.value)
        else:
            raise _err(
                "a dimension is a name (N) or a positive integer literal", item, where
            )
    return Decl(ARRAY_TYPES[kind.value.id], tuple(dims), line)


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


def _check_expr(root: ast.expr, where: str) -> None:
    """Whitelist every node below ``root`` (iterative: sums may be 100,000 deep)."""
    stack: list[ast.AST] = [root]
    conditions: set[int] = set()  # where()'s first arguments: comparisons allowed
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in BINOPS:
                what = _UNSUPPORTED_BINOPS.get(op, f"'{op.__name__}'")
                raise _err(f"unsupported operator {what}", node, where)
            stack.append(node.right)
            stack.append(node.left)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                sym = "not" if isinstance(node.op, ast.Not) else "'~'"
                raise _err(f"unsupported operator {sym}", node, where)
            stack.append(node.operand)
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name):
                raise _err(
                    "only the built-in functions can be called "
                    f"({', '.join(sorted(FUNCTIONS))})",
                    node,
                    where,
                )
            if func.id not in FUNCTIONS:
                raise _err(
                    f"unknown function '{func.id}' "
                    f"(known: {', '.join(sorted(FUNCTIONS))})",
                    func,
                    where,
                )
            low, high, keywords = FUNCTIONS[func.id]
            seen: set[str] = set()
            for kw in node.keywords:
                if kw.arg not in keywords:
                    what = f"keyword '{kw.arg}'" if kw.arg else "'**' arguments"
                    raise _err(f"{func.id}() takes no {what}", kw.value, where)
                if kw.arg in seen:
                    raise _err(
                        f"{func.id}() is given '{kw.arg}' twice", kw.value, where
                    )
                seen.add(kw.arg)
                problem = _OPTION_CHECKS[kw.arg](kw.value)
                if problem:
                    raise _err(f"{func.id}({kw.arg}=...) {problem}", kw.value, where)
            n = len(node.args)
            if n < low or (high is not None and n > high):
                if func.id in ("max", "min") and high is not None:
                    want = f"one array or 2 to {high} values"
                elif high is None:
                    want = f"{low} or more arguments"
                elif low == high:
                    want = f"{low} argument" + ("s" if low != 1 else "")
                else:
                    want = f"{low} to {high} arguments"
                hint = ""
                if func.id in ("max", "min") and high is not None and n > high:
                    hint = f"; nest them for more: {func.id}({func.id}(...), ...)"
                raise _err(f"{func.id}() takes {want}, got {n}{hint}", node, where)
            if func.id == "reshape":
                for dim in node.args[1:]:
                    if not (_literal_option(dim) or isinstance(dim, ast.Name)):
                        raise _err(
                            "reshape() dimensions are names or integer literals",
                            dim,
                            where,
                        )
                stack.append(node.args[0])
                continue
            if func.id == "where":
                conditions.add(id(node.args[0]))
            for arg in reversed(node.args):
                if isinstance(arg, ast.Starred):
                    raise _err("starred arguments are not supported", arg, where)
                stack.append(arg)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _err(
                    f"'{node.id}' is a function; call it as {node.id}(...)",
                    node,
                    where,
                )
            if node.id != "pi":
                _check_name(node.id, node, where)
        elif isinstance(node, ast.Compare):
            if id(node) not in conditions:
                raise _err(
                    "unsupported syntax: comparison (comparisons are only allowed as "
                    "the condition of where(cond, a, b))",
                    node,
                    where,
                )
            if len(node.ops) != 1 or type(node.ops[0]) not in COMPARE:
                raise _err(
                    "only single comparisons (a > b, a == b, ...) are supported",
                    node,
                    where,
                )
            stack.append(node.comparators[0])
            stack.append(node.left)
        elif isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise _err(
                    f"unsupported syntax: attribute access '.{node.attr}' "
                    "(only '.T', the transpose)",
                    node,
                    where,
                )
            stack.append(node.value)
        elif isinstance(node, ast.Subscript):
            items = (
                node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            )
            for item in reversed(items):
                if isinstance(item, ast.Slice):
                    for part in (item.lower, item.upper, item.step):
                        if part is not None and not _literal_option(part):
                            raise _err(
                                "slice bounds must be integer literals", part, where
                            )
                elif item is not None:
                    stack.append(item)
            stack.append(node.value)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _err(
                    f"unsupported literal {value!r}: only int and float numbers",
                    node,
                    where,
                )
        else:
            what = _DESCRIBE.get(type(node), type(node).__name__)
            raise _err(f"unsupported syntax: {what}", node, where)
