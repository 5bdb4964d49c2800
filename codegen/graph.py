"""``--graph FILE``: the computational graph of the forward program, drawn like the
lecture's circuits.

Left to right: the inputs in the first column, then one gate per statement, showing
the code's name for its value and its operation in the user's notation (``q`` over
``y * z``); an array program is drawn with one gate per statement of the program as
the user wrote it (``hidden`` over ``maximum(0, X @ W1 + b1)``), the lowering's own
steps inside it.  A wire runs from each value to every gate that reads it, and the
outputs' wires leave the picture on the right.  An array's wire shows its shape.

With ``--at`` each wire carries one label, on the wire itself: the value it carries
(green) over the gradient flowing back along it (red), from :mod:`codegen.trace`; an
array shows its shape, then its mean, least and greatest element.  Where a value
feeds several gates, each branch carries its own contribution (what the reading gate's
rule sends back) and the value's name shows their sum, as the lecture's copy gate
does.  The contributions come from tracing the program with an explicit copy of the
value per branch (``x_q = x``): reverse mode then computes each copy's gradient.

The text is Graphviz's ``dot`` language, built in program order (no set is iterated):
the same program at the same point gives the same bytes.  ``.svg`` and ``.png`` are
drawn by the ``dot`` program (Debian's ``graphviz`` package), with a node limit and a
time limit, so a large program is refused in one line rather than left to hang;
``.dot`` is the text itself and needs nothing.
"""

from __future__ import annotations

import ast
import html
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np

from .dims import show
from .errors import OptionError
from .evaluate import Value
from .generate import Compiled, differentiate, module_namer
from .ir import SCALAR, Expr, Op, Program, Stmt, Type, Var, names_in
from .parse import parse
from .printing import source_statement
from .trace import Row, Trace, number, trace_compiled

#: the extensions --graph writes, and what Graphviz calls each format
FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}
#: the most statements dot is asked to lay out; beyond, write .dot.  dot's time
#: grows with the crossings more than with the nodes: a chain of 2,000 statements
#: draws in 0.7 s, a program of 500 whose values are each read by statements up to
#: 50 lines later took 45 s (2.6 s with the cheaper layout below)
DRAW_LIMIT = 1000
#: above this many statements dot is asked for a cheaper layout (fewer crossing-
#: reduction and ranking iterations)
CHEAP_LAYOUT = 200
CHEAP_FLAGS = ("-Gmclimit=0.1", "-Gnslimit=1", "-Gnslimit1=1")
#: seconds dot may take before the drawing is abandoned (one line, nothing written)
DOT_TIMEOUT = 30.0

VALUE_COLOUR = "#2e7d32"  # green: the value a wire carries
GRADIENT_COLOUR = "#c62828"  # red: the gradient flowing back along it
SHAPE_COLOUR = "#555555"  # grey: an array's shape
#: primitives that read only an array's shape: no wire (``N = dim(X, axis=0)``)
SHAPE_ONLY = frozenset({"dim"})
#: the node that stands for the world beyond output k
EXIT = "_out{}"


def graph_format(path: str) -> str:
    """The format ``--graph PATH`` asks for, checked with the path before anything is
    computed: a known extension, a folder that exists, a file that can be written."""
    where = f"--graph {path}"
    target = Path(path)
    if not path or target.is_dir() or path.endswith(("/", os.sep)):
        raise OptionError("a folder, not a file", where)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        shown = f"'{suffix}' is not a graph format" if suffix else "no extension"
        raise OptionError(f"{shown}: use {known}", where)
    parent = target.parent
    if not parent.is_dir():
        raise OptionError("no such directory", where)
    if not os.access(parent, os.W_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise OptionError("cannot write: permission denied", where)
    return FORMATS[suffix]


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class _Gate:
    """One gate of the picture: the statements computing ``name`` (one, or a user
    statement's lowering) and what its box says below the name."""

    name: str
    operation: str
    stmts: list[Stmt] = dataclass_field(default_factory=list)


def _reads(stmt: Stmt) -> list[str]:
    """The names a statement reads along a wire (not an array's shape alone)."""
    expr = stmt.expr
    if isinstance(expr, Op) and expr.prim in SHAPE_ONLY:
        return []
    return names_in(expr)


def _user_statements(source: str, forward: Program) -> dict[str, str]:
    """The value each statement of ``source`` writes in the flat program (``a``, or
    ``a_1`` for an earlier assignment to ``a``), and its right-hand side as the user
    wrote it (``x += e`` whole)."""
    parsed = parse(source)
    counts: dict[str, int] = {}
    for st in parsed.statements:
        if st.target is not None:
            counts[st.target] = counts.get(st.target, 0) + 1
    made: dict[str, int] = {}
    found: dict[str, str] = {}
    inputs = set(forward.inputs)
    for k, st in enumerate(parsed.statements):
        text = " ".join((ast.get_source_segment(source, st.value) or "").split())
        if st.target is None:  # a bare expression: the output, when last
            if k == len(parsed.statements) - 1 and text:
                found.setdefault(forward.outputs[0], text)
            continue
        made[st.target] = made.get(st.target, 0) + 1
        last = made[st.target] == counts[st.target]
        input_ = st.target in inputs
        written = st.target if last and not input_ else f"{st.target}_{made[st.target]}"
        found[written] = text
    return found


def _gates(forward: Program, source: str | None) -> tuple[list[_Gate], dict[str, str]]:
    """The gates in program order, and the gate each statement's value belongs to:
    one gate per statement, or, for an array program whose source is known, one per
    statement of the source (a lowering's steps join the first gate reading them)."""
    arrays = any(t.rank for t in forward.types.values())
    user = _user_statements(source, forward) if arrays and source else None
    written = {s.target: None for s in forward.stmts}
    if user is not None:
        ends = {n for n in (*user, *forward.outputs) if n in written}
    else:
        ends = set(written)
    group: dict[str, str] = {}
    reader: dict[str, str] = {}
    for stmt in reversed(forward.stmts):
        gate = stmt.target if stmt.target in ends else reader.get(stmt.target)
        group[stmt.target] = gate or stmt.target
        for name in _reads(stmt):
            reader[name] = group[stmt.target]
    gates: dict[str, _Gate] = {}
    for stmt in forward.stmts:
        name = group[stmt.target]
        if name == stmt.target:
            operation = source_statement(stmt).partition(" = ")[2]
            if user is not None and name in user:
                operation = user[name]
            gates[name] = _Gate(name, operation)
    for stmt in forward.stmts:
        gates[group[stmt.target]].stmts.append(stmt)
    return list(gates.values()), group


def _wires(
    forward: Program, gates: list[_Gate], group: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """Each wire once, in program order: (the node it leaves, the value it carries,
    the gate or exit it enters)."""
    wires: dict[tuple[str, str], str] = {}
    for gate in gates:
        for stmt in gate.stmts:
            for name in _reads(stmt):
                source = group.get(name, name)
                if source != gate.name:
                    wires.setdefault((name, gate.name), source)
    for k, output in enumerate(forward.outputs):
        wires[(output, EXIT.format(k))] = group.get(output, output)
    return [(src, value, end) for (value, end), src in wires.items()]


def _branches(wires: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """The values that fan out, each with the gates (and exits) it enters, in order."""
    branches: dict[str, list[str]] = {}
    for _, value, end in wires:
        branches.setdefault(value, []).append(end)
    return {v: ends for v, ends in branches.items() if len(ends) > 1}


def branch_shares(
    trace: Trace, source: str | None = None
) -> dict[tuple[str, str], tuple[Value | None, ...]]:
    """The gradient flowing back along each branch of each value the picture of
    ``trace`` shows fanning out: (value, gate or ``_outK``) -> one per output."""
    forward = trace.compiled.forward
    gates, group = _gates(forward, source if source is not None else trace.source)
    branches = _branches(_wires(forward, gates, group))
    return _branch_grads(trace.compiled, trace, group, branches) if branches else {}


def _branch_grads(
    compiled: Compiled,
    trace: Trace,
    group: Mapping[str, str],
    branches: Mapping[str, list[str]],
) -> dict[tuple[str, str], tuple[Value | None, ...]]:
    """The gradient flowing back along each branch of each value that fans out, as
    (value, gate) -> one per output: the program is traced again with a copy of the
    value per reading gate (``x_q = x``), whose gradient is that branch's share; a
    branch leaving the picture carries its output's upstream gradient (1, else 0)."""
    forward = compiled.forward
    namer = module_namer(forward, compiled.backend)
    copies: dict[tuple[str, str], str] = {}
    after: dict[str, list[Stmt]] = {}
    for value, ends in branches.items():
        for end in ends:
            if not end.startswith("_out"):
                copy = namer.fresh(f"{value}_{end}")
                copies[(value, end)] = copy
                after.setdefault(value, []).append(Stmt(copy, Var(value)))
    stmts = [s for name in forward.inputs for s in after.get(name, ())]
    for stmt in forward.stmts:
        gate = group[stmt.target]
        names = {n: copies[(n, gate)] for n in _reads(stmt) if (n, gate) in copies}
        stmts.append(replace(stmt, expr=_renamed(stmt.expr, names)))
        stmts += after.get(stmt.target, ())
    types = dict(forward.types)
    for (value, _), copy in copies.items():
        types[copy] = forward.types.get(value, SCALAR)
    program = Program(forward.inputs, tuple(stmts), forward.outputs, types=types)
    branched = differentiate(program, compiled.backend, compiled.wrt)
    rows = {row.name: row for row in trace_compiled(branched, trace.point).rows}
    values = {row.name: row.value for row in trace.rows}
    found = {key: rows[copy].grads for key, copy in copies.items()}
    for value, ends in branches.items():
        for end in ends:
            if end.startswith("_out"):
                k = int(end[len("_out") :])
                found[(value, end)] = tuple(
                    _unit(values[value], j == k) for j in range(len(forward.outputs))
                )
    return found


def _unit(like: Value, one: bool) -> Value:
    if isinstance(like, np.ndarray):
        return np.full(like.shape, float(one))
    return float(one)


def _renamed(expr: Expr, names: Mapping[str, str]) -> Expr:
    if isinstance(expr, Var):
        return Var(names.get(expr.name, expr.name))
    if isinstance(expr, Op):
        args = tuple(_renamed(a, names) for a in expr.args)
        return Op(expr.prim, args, expr.params)
    return expr


def _lines(value: Value | None, colour: str) -> list[str]:
    """A value (or gradient) as label lines: a number, or an array's statistics."""
    if value is None:
        return []
    text = number(value)
    if isinstance(value, np.ndarray):
        text = text[len(show(value.shape)) + 1 :]  # the shape is shown once, above
    return [f'<font color="{colour}">{_html(text)}</font>']


def _wire_label(kind: Type, value: Value, grads: tuple[Value | None, ...]) -> str:
    """A wire's label: an array's shape (``(N, D) = (4, 3)``), its value, then its
    gradient (one per output, in order)."""
    lines: list[str] = []
    if isinstance(value, np.ndarray):
        shape = show(value.shape)
        if kind.rank and show(kind.shape) != shape:
            shape = f"{show(kind.shape)} = {shape}"
        lines.append(f'<font color="{SHAPE_COLOUR}">{_html(shape)}</font>')
    lines += _lines(value, VALUE_COLOUR)
    for grad in grads:
        lines += _lines(grad, GRADIENT_COLOUR)
    return "<br/>".join(lines)


def _sum_line(total: tuple[Value | None, ...], parts: list[tuple]) -> str:
    """The red line under a value that fans out: its gradient, the sum of its
    branches' (``14 = 6 + 8``; for an array, the sum's statistics)."""
    shown: list[str] = []
    for k, grad in enumerate(total):
        if grad is None:
            continue
        text = number(grad)
        branch = [p[k] for p in parts]
        if not isinstance(grad, np.ndarray) and all(b is not None for b in branch):
            terms = [number(branch[0])]
            terms += [
                f"- {number(-b)}" if b < 0 else f"+ {number(b)}" for b in branch[1:]
            ]
            text += " = " + " ".join(terms)
        shown.append(text)
    if not shown:
        return ""
    return f'<br/><font color="{GRADIENT_COLOUR}">{_html("; ".join(shown))}</font>'


def _legend(trace: Trace, fan_out: bool) -> str:
    """The legend below a traced picture (the fan-out line only where there is one)."""
    outputs = ", ".join(trace.outputs)
    of = f"d{outputs}/d(wire)" if len(trace.outputs) == 1 else f"of {outputs}, in order"
    rows = [
        f'<font color="{VALUE_COLOUR}">value</font>: the upper number on a wire',
        f'<font color="{GRADIENT_COLOUR}">gradient</font>: the lower number, '
        f"{_html(of)}, flowing back along the wire",
    ]
    if fan_out:
        rows.append(
            "a value read by several gates: each wire carries its own share; the "
            "value's name shows their sum"
        )
    if any(isinstance(row.value, np.ndarray) for row in trace.rows):
        rows.append("an array: its shape, then its mean, least and greatest element")
    cells = "".join(f'<tr><td align="left">{r}</td></tr>' for r in rows)
    return (
        '  labelloc=b; labeljust=l; label=<<table border="0" cellborder="0" '
        f'cellspacing="0" cellpadding="2">{cells}</table>>;'
    )


def dot_text(
    compiled: Compiled, trace: Trace | None = None, source: str | None = None
) -> str:
    """The forward program of ``compiled`` in the dot language; with ``trace`` (of
    the same program) every wire shows its value and gradient.  ``source`` (or the
    trace's) lets an array program be drawn by its own statements."""
    forward = compiled.forward
    if trace is not None and source is None:
        source = trace.source
    gates, group = _gates(forward, source)
    wires = _wires(forward, gates, group)
    branches = _branches(wires)
    rows = {row.name: row for row in trace.rows} if trace is not None else {}
    shares = (
        _branch_grads(compiled, trace, group, branches) if trace and branches else {}
    )
    lines = [
        "digraph backpropgen {",
        "  rankdir=LR;",
        '  graph [fontname="Helvetica" fontsize=11];',
        '  node [fontname="Helvetica" fontsize=12];',
        '  edge [fontname="Helvetica" fontsize=11 arrowsize=0.6];',
    ]
    if trace is not None:
        lines.append(_legend(trace, bool(branches)))

    def total(name: str) -> str:
        if name not in branches or name not in rows:
            return ""
        parts = [shares[(name, end)] for end in branches[name]]
        return _sum_line(rows[name].grads, parts)

    sources = dict.fromkeys(forward.inputs)
    for src, value, _ in wires:
        if src == value and value not in group:  # a name that is no value: pi
            sources[value] = None
    for name in sources:
        label = f"<b>{_html(name)}</b>{total(name)}"
        lines.append(f"  {_quote(name)} [shape=plaintext label=<{label}>];")
    lines.append("  { rank=source; " + " ".join(_quote(n) for n in sources) + " }")
    for gate in gates:
        label = (
            f"<b>{_html(gate.name)}</b><br/>{_html(gate.operation)}{total(gate.name)}"
        )
        lines.append(
            f"  {_quote(gate.name)} [shape=box style=rounded label=<{label}>];"
        )
    ends = [EXIT.format(k) for k in range(len(forward.outputs))]
    for end in ends:
        lines.append(f'  {_quote(end)} [shape=plaintext label=""];')
    lines.append("  { rank=sink; " + " ".join(_quote(n) for n in ends) + " }")
    for k, (src, value, end) in enumerate(wires):
        label = _label(forward.types, rows, shares, value, end)
        if not label:
            lines.append(f"  {_quote(src)} -> {_quote(end)};")
            continue
        node = f"_w{k}"
        lines.append(f"  {_quote(node)} [shape=plaintext margin=0.02 label=<{label}>];")
        lines.append(f"  {_quote(src)} -> {_quote(node)} [arrowhead=none];")
        lines.append(f"  {_quote(node)} -> {_quote(end)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _label(
    types: Mapping[str, Type],
    rows: Mapping[str, Row],
    shares: Mapping[tuple[str, str], tuple[Value | None, ...]],
    value: str,
    end: str,
) -> str:
    """The label of the wire carrying ``value`` into ``end``: with a trace, the value
    and the gradient flowing back along this wire; else an array's shape."""
    row = rows.get(value)
    kind = types.get(value, SCALAR)
    if row is None:
        if not kind.rank:
            return ""
        return f'<font color="{SHAPE_COLOUR}">{_html(show(kind.shape))}</font>'
    return _wire_label(kind, row.value, shares.get((value, end), row.grads))


def find_dot() -> str | None:
    """The ``dot`` program, if installed."""
    return shutil.which("dot")


def render_graph(text: str, fmt: str, statements: int, where: str) -> bytes:
    """The bytes of the file ``--graph`` writes: the dot text, or dot's drawing of
    it (refused past :data:`DRAW_LIMIT` statements, abandoned after
    :data:`DOT_TIMEOUT` seconds)."""
    if fmt == "dot":
        return text.encode()
    dot = find_dot()
    if dot is None:
        raise OptionError(
            f"drawing .{fmt} needs Graphviz's dot program: install the Debian "
            "package graphviz (apt-get install graphviz), or write .dot",
            where,
        )
    if statements > DRAW_LIMIT:
        raise OptionError(
            f"{statements} statements are too many to draw (at most {DRAW_LIMIT}); "
            "write .dot instead",
            where,
        )
    try:
        done = subprocess.run(  # noqa: S603 - our dot text, a fixed argument list
            [dot, f"-T{fmt}", *(CHEAP_FLAGS if statements > CHEAP_LAYOUT else ())],
            input=text.encode(),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OptionError(
            f"Graphviz's dot took more than {DOT_TIMEOUT:g} s; write .dot instead",
            where,
        ) from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise OptionError(
            f"Graphviz's dot failed: {reason[0] if reason else done.returncode}",
            where,
        )
    return done.stdout


def write_graph(path: str, data: bytes) -> None:
    """Write all of ``data`` to ``path`` or nothing (a temporary file renamed)."""
    target = Path(os.path.realpath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OptionError(f"cannot write: {reason}", f"--graph {path}") from None


def graph_file(
    path: str,
    compiled: Compiled,
    trace: Trace | None = None,
    source: str | None = None,
) -> bytes:
    """What ``--graph path`` writes for ``compiled`` (the format from the path)."""
    fmt = graph_format(path)
    text = dot_text(compiled, trace, source)
    return render_graph(text, fmt, len(compiled.forward.stmts), f"--graph {path}")
