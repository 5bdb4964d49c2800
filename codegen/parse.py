"""Source text -> validated Python syntax tree, through an ``ast`` whitelist.

Nothing here evaluates user text: the text is parsed by :func:`ast.parse` and every node
is checked against a whitelist (:mod:`codegen.whitelist`) before :mod:`codegen.linearize`
builds the graph from it.

Accepted (one statement per line or separated by ``;``; ``#`` comments):

* ``name = expression``; a name may be assigned again (Python's meaning: later
  statements read the newest value), and ``name += expression`` (``-=``, ``*=``,
  ``/=``) is ``name = name + (expression)``;
* ``name: float`` declares an input (fixes the input order);
* one bare expression, as the last statement (its value is the output);
* ``for t in range(4):`` loops of such assignments, unrolled here
  (:mod:`codegen.loops`): each statement of an iteration carries its ``label``.

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
from dataclasses import dataclass, replace

from .dims import (
    Dim,
    SizeProblem,
    dim_name,
    dim_names,
    dim_text,
    from_ast,
    may_be_nonnegative,
)
from .errors import InputError
from .hints import statement_problem
from .loops import has_loops, unroll
from .whitelist import check_expr, check_name, node_error

#: past this many tokens the input is refused at once: generation is linear, but about
#: 25 kB of memory and 0.1 ms per operation (a sum of 100,000 inputs, 200,000 tokens,
#: takes 20 s and 2.5 GB), so 1,000,000 tokens (up to about 500,000 operations) is
#: what one module of one machine holds
MAX_TOKENS = 1_000_000


SCALAR_TYPES = frozenset({"float", "scalar"})
ARRAY_TYPES = {"array": "float", "int": "int"}

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
    #: the loop iteration the statement is unrolled from (``t = 2``; nested:
    #: ``t = 1, s = 0``), "" outside loops (see :mod:`codegen.loops`)
    label: str = ""


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


def _validate(module: ast.Module, where: str, lines: tuple[str, ...]) -> Parsed:
    statements: list[Statement] = []
    declared: list[str] = []
    decls: list[tuple[str, Decl]] = []
    outputs: tuple[str, ...] | None = None
    outputs_line = 0
    if not module.body:
        raise InputError("empty input: nothing to differentiate", where)
    body = (
        unroll(module.body, where, lines, MAX_TOKENS)
        if has_loops(module.body)
        else [(stmt, "") for stmt in module.body]
    )
    for index, (stmt, label) in enumerate(body):
        last = index == len(body) - 1
        if isinstance(stmt, ast.Assign):
            statements.append(replace(_assignment(stmt, where), label=label))
        elif isinstance(stmt, ast.AugAssign):
            statements.append(replace(_augmented(stmt, where), label=label))
        elif isinstance(stmt, ast.AnnAssign):
            name, decl = _declared(stmt, where, declared, statements)
            declared.append(name)
            decls.append((name, decl))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Tuple):
            # u, v: several outputs, named on the last line
            if not last:
                raise node_error(
                    "a list of outputs ('u, v') is only allowed as the last line",
                    stmt,
                    where,
                )
            outputs, outputs_line = _output_names(stmt, where), stmt.lineno
        elif isinstance(stmt, ast.Expr):
            if not last:
                raise node_error(
                    "a bare expression is only allowed as the last statement "
                    "(assign it to a name: 'q = ...')",
                    stmt,
                    where,
                )
            check_expr(stmt.value, where)
            statements.append(Statement(None, stmt.value, stmt.lineno))
        else:
            raise node_error(statement_problem(stmt), stmt, where)
    if not statements:
        raise InputError("no statements: nothing to differentiate", where)
    _check_sizes(decls, where)
    return Parsed(
        tuple(statements),
        tuple(declared),
        where,
        lines,
        tuple(decls),
        outputs,
        outputs_line,
    )


def _check_sizes(decls: list[tuple[str, Decl]], where: str) -> None:
    """Every dimension name a size mentions (``H`` in ``Wx: array[D, 4*H]``) is the
    size of some input's axis written as that bare name, which defines it."""
    defined = {dim_name(d) for _, decl in decls for d in decl.shape} - {None}
    for name, decl in decls:
        for dim in decl.shape:
            for used in dim_names(dim):
                if used not in defined:
                    raise InputError(
                        f"the size {dim_text(dim)} of '{name}' uses '{used}', which "
                        f"no input's axis defines: declare an input with an axis "
                        f"{used} (e.g. 'h: array[N, {used}]')",
                        f"{where}:{decl.line}",
                    )


def _assignment(stmt: ast.Assign, where: str) -> Statement:
    """``name = e``: one plain name, a whitelisted expression."""
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        raise node_error(
            "each statement assigns one plain name (no tuples, no chains)", stmt, where
        )
    target = stmt.targets[0].id
    check_name(target, stmt.targets[0], where)
    check_expr(stmt.value, where)
    return Statement(target, stmt.value, stmt.lineno)


def _declared(
    stmt: ast.AnnAssign,
    where: str,
    declared: list[str],
    statements: list[Statement],
) -> tuple[str, Decl]:
    """``x: float`` (or an array type): an input, declared once, before any
    assignment to it."""
    if not isinstance(stmt.target, ast.Name) or stmt.value is not None:
        raise node_error(
            "a declaration is 'name: float' on its own (no value)", stmt, where
        )
    name = stmt.target.id
    check_name(name, stmt.target, where)
    decl = _declaration(stmt.annotation, stmt.lineno, where)
    if name in declared:
        raise node_error(f"input '{name}' is declared twice", stmt, where)
    if any(s.target == name for s in statements):
        raise node_error(
            f"'{name}' is assigned before it is declared as an input", stmt, where
        )
    return name, decl


def _output_names(line: ast.Expr, where: str) -> tuple[str, ...]:
    """The names of the outputs line ``u, v``: distinct plain names, at least one."""
    assert isinstance(line.value, ast.Tuple)
    names: list[str] = []
    for item in line.value.elts:
        if not isinstance(item, ast.Name):
            raise node_error(
                "the outputs line names assigned values: 'u, v'", item, where
            )
        check_name(item.id, item, where)
        if item.id in names:
            raise node_error(f"output '{item.id}' is listed twice", item, where)
        names.append(item.id)
    if not names:
        raise node_error("an empty list of outputs", line, where)
    return tuple(names)


def _augmented(stmt: ast.AugAssign, where: str) -> Statement:
    """``name += e`` (``-= *= /=``) as ``name = name + (e)``, the read of ``name``
    placed where the target is written (for messages)."""
    if not isinstance(stmt.target, ast.Name):
        raise node_error("an augmented assignment updates one plain name", stmt, where)
    op = AUGMENTED.get(type(stmt.op))
    if op is None:
        symbols = {ast.Pow: "**", ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%"}
        sign = symbols.get(type(stmt.op), type(stmt.op).__name__)
        raise node_error(
            f"unsupported augmented assignment '{sign}=' (only += -= *= /=; "
            "write it out: 'a = a ** b')",
            stmt,
            where,
        )
    name = stmt.target.id
    check_name(name, stmt.target, where)
    check_expr(stmt.value, where)
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
        raise node_error(usage, kind, where)
    if not (
        isinstance(kind, ast.Subscript)
        and isinstance(kind.value, ast.Name)
        and kind.value.id in ARRAY_TYPES
    ):
        raise node_error(usage, kind, where)
    items = kind.slice.elts if isinstance(kind.slice, ast.Tuple) else [kind.slice]
    dims: list[Dim] = []
    for item in items:
        for node in ast.walk(item):
            if isinstance(node, ast.Name):
                check_name(node.id, node, where)
        try:
            dim = from_ast(item)
        except SizeProblem as problem:
            raise node_error(str(problem), problem.node, where) from None
        if not may_be_nonnegative(dim) or dim == 0:
            raise node_error(
                (
                    f"a size is positive, and '{ast.unparse(item)}' is {dim_text(dim)}"
                    if isinstance(dim, int)
                    else f"a size is positive, and '{ast.unparse(item)}' is not for "
                    "large sizes"
                ),
                item,
                where,
            )
        dims.append(dim)
    return Decl(ARRAY_TYPES[kind.value.id], tuple(dims), line)
