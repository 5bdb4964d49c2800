"""Numerically unstable spellings, pointed out or rewritten, and ``sqrt(sum(a * a))``
computed as ``norm(a)``.

:func:`find` looks for six textbook formulas inside each statement's expression (as
written: a pattern split over two assignments is not followed) and says, for each, where
it is and how to write it stably:

==================== ======================== ============================================
pattern              stable spelling          what goes wrong
==================== ======================== ============================================
log(sigmoid(x))      log_sigmoid(x)           -inf for x below about -745
log(1 + exp(x))      softplus(x)              inf for x above about 709
log(1 + x)           log1p(x)                 the digits of a small x are lost
exp(x) - 1           expm1(x)                 the digits of a small x are lost
log(sum(exp(a)))     logsumexp(a)             inf for entries above about 709
exp(a)/sum(exp(a))   softmax(a)               inf / inf = nan for scores above about 709
==================== ======================== ============================================

``log(sum(exp(a), axis=1))`` keeps its options (``logsumexp(a, axis=1)``); the naive
softmax ``exp(a) / sum(exp(a), axis=1, keepdims=True)`` keeps its ``axis``
(``softmax(a, axis=1)``; without one it is over everything: ``axis=None``).
:func:`rewrite` replaces each found pattern by its stable spelling in the parsed
program, so the result is the program the user would have written that way (what
``--stable`` does).  Both are iterative and linear in the size of the program.

:func:`norms` is a pass over the flat program: ``sqrt(sum(a * a))`` (or ``a ** 2``,
with the same ``axis``/``keepdims``) becomes ``norm(a)``, whose gradient at ``a = 0`` is
0 (PyTorch's subgradient) instead of ``0 * inf = nan``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from .ir import Const, Op, Program, Stmt, Var
from .parse import Parsed, Statement


@dataclass(frozen=True)
class Finding:
    """One unstable spelling: where (``prog.bp:3:5``), what was written, the stable
    spelling and why."""

    where: str
    line: int
    written: str
    stable: str
    reason: str

    @property
    def message(self) -> str:
        """The warning's text (the CLI puts ``backpropgen: warning:`` before it)."""
        return (
            f"{self.where}: {self.written} {self.reason}; write {self.stable} "
            "(or generate with --stable)"
        )

    @property
    def rewritten(self) -> str:
        return f"{self.written} as {self.stable} (line {self.line})"


#: pattern -> (the new function, why the written form is unstable)
_PATTERNS: dict[str, tuple[str, str]] = {
    "log(sigmoid(x))": ("log_sigmoid", "is -inf below about -745"),
    "log(1 + exp(x))": ("softplus", "overflows to inf above about 709"),
    "log(1 + x)": ("log1p", "loses the digits of a small x (log(1 + 1e-20) is 0)"),
    "exp(x) - 1": ("expm1", "loses the digits of a small x (exp(1e-20) - 1 is 0)"),
    "log(sum(exp(a)))": ("logsumexp", "overflows to inf for entries above about 709"),
    "exp(a) / sum(exp(a))": (
        "softmax",
        "overflows to inf / inf = nan for scores above about 709",
    ),
}

MAX_SHOWN = 40  # longer arguments are shown as x (or a)


def _call(node: ast.AST, name: str, nargs: int = 1) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and len(node.args) == nargs
        and not any(isinstance(a, ast.Starred) for a in node.args)
    )


def _one(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and node.value == 1
    )


def _match(node: ast.AST) -> tuple[str, ast.expr, list[ast.keyword]] | None:
    """The pattern ``node`` is, its argument ``x`` and the keywords to keep."""
    if _call(node, "log") and not node.keywords:  # type: ignore[attr-defined]
        (inner,) = node.args  # type: ignore[attr-defined]
        if _call(inner, "sigmoid") and not inner.keywords:
            return "log(sigmoid(x))", inner.args[0], []
        if _call(inner, "sum") and _call(inner.args[0], "exp"):
            return "log(sum(exp(a)))", inner.args[0].args[0], list(inner.keywords)
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Add):
            for one, other in ((inner.left, inner.right), (inner.right, inner.left)):
                if _one(one):
                    if _call(other, "exp") and not other.keywords:  # type: ignore[attr-defined]
                        return "log(1 + exp(x))", other.args[0], []  # type: ignore[attr-defined]
                    return "log(1 + x)", other, []
    softmax = _naive_softmax(node)
    if softmax is not None:
        return "exp(a) / sum(exp(a))", *softmax
    if (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Sub)
        and _call(node.left, "exp")
        and not node.left.keywords  # type: ignore[attr-defined]
        and _one(node.right)
    ):
        return "exp(x) - 1", node.left.args[0], []  # type: ignore[attr-defined]
    return None


def _naive_softmax(node: ast.AST) -> tuple[ast.expr, list[ast.keyword]] | None:
    """``exp(a) / sum(exp(a), axis=k, keepdims=True)`` (or without ``axis``: over
    everything): ``a`` and softmax's keywords (``axis=k``, or ``axis=None``)."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
        return None
    top, bottom = node.left, node.right
    if not (_call(top, "exp") and _call(bottom, "sum") and not top.keywords):  # type: ignore[attr-defined]
        return None
    inner = bottom.args[0]  # type: ignore[attr-defined]
    if not (_call(inner, "exp") and not inner.keywords):
        return None
    arg = top.args[0]  # type: ignore[attr-defined]
    if not _same(arg, inner.args[0]):
        return None
    options = {kw.arg: kw.value for kw in bottom.keywords}  # type: ignore[attr-defined]
    axis = options.get("axis")
    if axis is None or (isinstance(axis, ast.Constant) and axis.value is None):
        everything = ast.copy_location(ast.Constant(None), node)
        return arg, [ast.keyword("axis", everything)]
    keepdims = options.get("keepdims")
    if isinstance(keepdims, ast.Constant) and keepdims.value is True:
        return arg, [ast.keyword("axis", axis)]
    return None


def _same(a: ast.AST, b: ast.AST) -> bool:
    """The same expression, written alike (positions aside; iterative)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        for field in x._fields:
            u, v = getattr(x, field, None), getattr(y, field, None)
            if isinstance(u, list) and isinstance(v, list):
                if len(u) != len(v):
                    return False
                stack.extend(zip(u, v, strict=True))
            elif isinstance(u, ast.AST) and isinstance(v, ast.AST):
                stack.append((u, v))
            elif u != v:
                return False
    return True


def _text(parsed: Parsed, node: ast.AST) -> str | None:
    """The source text of a node on one line, if short."""
    line = getattr(node, "lineno", None)
    if line is None or node.end_lineno != line:  # type: ignore[attr-defined]
        return None
    raw = parsed.lines[line - 1].encode()
    text = raw[node.col_offset : node.end_col_offset].decode()  # type: ignore[attr-defined]
    return text if len(text) <= MAX_SHOWN else None


def _spelled(
    pattern: str, text: str | None, arg: str | None, keywords: str
) -> tuple[str, str]:
    """What was written (the user's text when short, else the pattern) and its
    stable spelling, with the user's argument when short."""
    name, _ = _PATTERNS[pattern]
    letter = "a" if "sum" in pattern else "x"
    options = f", {keywords}" if keywords else ""
    if text is not None and arg is not None:
        return text, f"{name}({arg}{options})"
    if pattern == "exp(a) / sum(exp(a))":  # a long line: its argument alone is shown
        a = arg or letter
        return f"exp({a}) / sum(exp({a}), ...)", f"{name}({a}{options})"
    written = pattern
    if pattern == "log(sum(exp(a)))" and keywords:
        written = written[:-2] + f"{options}))"
    return written, f"{name}({letter}{options})"


def _walk(root: ast.expr) -> list[tuple[ast.AST, ast.AST | None, str, int | None]]:
    """Every node under ``root`` with its parent, field and index, outer first
    (iterative)."""
    order: list[tuple[ast.AST, ast.AST | None, str, int | None]] = []
    stack: list[tuple[ast.AST, ast.AST | None, str, int | None]] = [
        (root, None, "", None)
    ]
    while stack:
        item = stack.pop()
        order.append(item)
        node = item[0]
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                for index, child in enumerate(value):
                    if isinstance(child, ast.AST):
                        stack.append((child, node, field, index))
            elif isinstance(value, ast.AST):
                stack.append((value, node, field, None))
    return order


def _scan(parsed: Parsed, edit: bool) -> tuple[list[Finding], tuple[Statement, ...]]:
    findings: list[Finding] = []
    statements: list[Statement] = []
    for st in parsed.statements:
        value = st.value
        # every pattern calls log or exp: most statements of a large program have
        # neither, and need no walk
        last = getattr(value, "end_lineno", None) or st.line
        if not any(
            "log" in line or "exp" in line for line in parsed.lines[st.line - 1 : last]
        ):
            statements.append(st)
            continue
        found = []
        for node, parent, field, index in _walk(st.value):
            match = _match(node)
            if match is not None:
                found.append((node, parent, field, index, match))
        for node, *_, (pattern, arg, keywords) in sorted(
            found, key=lambda f: (f[0].lineno, f[0].col_offset)
        ):
            kw = ", ".join(
                f"{k.arg}={ast.unparse(k.value)}" for k in keywords if k.arg is not None
            )
            written, stable = _spelled(
                pattern, _text(parsed, node), _text(parsed, arg), kw
            )
            where = f"{parsed.where}:{node.lineno}:{node.col_offset + 1}"
            _, reason = _PATTERNS[pattern]
            findings.append(Finding(where, node.lineno, written, stable, reason))
        if edit:
            # innermost first, so that an outer rewrite takes the rewritten inner one
            for node, parent, field, index, _ in reversed(found):
                match = _match(node)  # again: an inner rewrite may have changed it
                assert match is not None
                pattern, arg, keywords = match
                name, _ = _PATTERNS[pattern]
                new = ast.copy_location(
                    ast.Call(ast.Name(name, ast.Load()), [arg], keywords), node
                )
                new.func = ast.copy_location(new.func, node)
                if parent is None:
                    value = new
                elif index is None:
                    setattr(parent, field, new)
                else:
                    getattr(parent, field)[index] = new
        statements.append(replace(st, value=value) if value is not st.value else st)
    return findings, tuple(statements)


def find(parsed: Parsed) -> tuple[Finding, ...]:
    """The unstable spellings in a parsed program, in source order."""
    findings, _ = _scan(parsed, edit=False)
    return _once(findings)


def rewrite(parsed: Parsed) -> tuple[Parsed, tuple[Finding, ...]]:
    """The program with each unstable spelling replaced by its stable one (the parsed
    trees are edited in place: call it on a program parsed for this purpose)."""
    findings, statements = _scan(parsed, edit=True)
    return replace(parsed, statements=statements), _once(findings)


def _once(findings: list[Finding]) -> tuple[Finding, ...]:
    """Each finding once: a loop's body is found again in every iteration."""
    first: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        first.setdefault((finding.where, finding.written), finding)
    return tuple(first.values())


def header_sentence(findings: tuple[Finding, ...]) -> str:
    """The header's one sentence about a ``--stable`` rewrite ("" if none happened)."""
    if not findings:
        return ""
    return (
        "Rewritten for stability (--stable): "
        + "; ".join(f.rewritten for f in findings)
        + "."
    )


# --- sqrt(sum(a * a)) as norm(a) -------------------------------------------------------


def _squared(expr: object) -> str | None:
    """``a * a`` or ``a ** 2``: the name ``a``."""
    if not isinstance(expr, Op):
        return None
    if expr.prim == "mul":
        a, b = expr.args
        if isinstance(a, Var) and a == b:
            return a.name
    if expr.prim == "pow":
        a, b = expr.args
        if isinstance(a, Var) and isinstance(b, Const) and b.value == 2:
            return a.name
    return None


def norms(program: Program) -> Program:
    """``sqrt(sum(a * a, ...))`` written as ``norm(a, ...)`` (same axis and keepdims):
    the same value, computed without overflow, with gradient 0 at ``a = 0``.  The
    intermediates stay (``prune`` drops the unused ones)."""
    defined: dict[str, Stmt] = {}
    stmts: list[Stmt] = []
    changed = False
    for stmt in program.stmts:
        expr = stmt.expr
        if (
            isinstance(expr, Op)
            and expr.prim == "sqrt"
            and isinstance(expr.args[0], Var)
            and not stmt.accumulate
        ):
            total = defined.get(expr.args[0].name)
            if total is not None and isinstance(total.expr, Op):
                summed = total.expr
                if summed.prim == "sum" and isinstance(summed.args[0], Var):
                    square = defined.get(summed.args[0].name)
                    base = _squared(square.expr) if square is not None else None
                    if base is not None:
                        stmt = replace(
                            stmt, expr=Op("norm", (Var(base),), summed.params)
                        )
                        changed = True
        if stmt.accumulate:
            defined.pop(stmt.target, None)
        else:
            defined[stmt.target] = stmt
        stmts.append(stmt)
    if not changed:
        return program
    return replace(program, stmts=tuple(stmts))
