"""``--graph FILE``: the computational graph of the forward program, drawn like the
lecture's circuits.

One node per statement, left to right: an input is its name; a statement is a gate
showing the code's name for its value and its operation in the user's notation
(``q`` over ``y * z``); a wire runs from each value to every statement that reads it,
and the outputs' wires leave the picture on the right.  With ``--at`` every wire shows
its value above (green) and its gradient below (red), from :mod:`codegen.trace`, and a
legend says which is which.  The gradient under a wire is the gradient of the value it
carries (with fan-out, every branch shows the sum of the branches).

The text is Graphviz's ``dot`` language, built in program order (no set is iterated):
the same program gives the same bytes.  ``.svg`` and ``.png`` are drawn by the ``dot``
program (Debian's ``graphviz`` package), with a node limit and a time limit, so a large
program is refused in one line rather than left to hang; ``.dot`` is the text itself
and needs nothing.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from codegen.errors import OptionError
from codegen.generate import Compiled
from codegen.ir import names_in
from codegen.printing import source_statement
from codegen.shapes import SCALAR, Type, show
from codegen.trace import Trace, number

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

VALUE_COLOUR = "#2e7d32"  # green, above the wire
GRADIENT_COLOUR = "#c62828"  # red, below the wire


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


def _wire_label(
    name: str, types: Mapping[str, Type], trace: Trace | None, rows: Mapping
) -> str:
    """The label of a wire carrying ``name``: its value over its gradient (with
    ``--at``), else its shape if it is an array, else nothing."""
    if trace is None:
        kind = types.get(name, SCALAR)
        return f" [label={_quote(show(kind.shape))}]" if kind.rank else ""
    row = rows[name]
    parts = [f'<font color="{VALUE_COLOUR}">{_html(number(row.value))}</font>']
    grads = [number(g) for g in row.grads if g is not None]
    if grads:
        text = _html(", ".join(grads))
        parts.append(f'<font color="{GRADIENT_COLOUR}">{text}</font>')
    return " [label=<" + "<br/>".join(parts) + ">]"


def _legend(trace: Trace) -> str:
    outputs = ", ".join(trace.outputs)
    of = f"d{outputs}/d(wire)" if len(trace.outputs) == 1 else f"of {outputs}, in order"
    return (
        '"_legend" [shape=plaintext label=<<table border="0" cellborder="1" '
        'cellspacing="0" cellpadding="4">'
        f'<tr><td><font color="{VALUE_COLOUR}">value</font>: the upper number on a wire</td></tr>'
        f'<tr><td><font color="{GRADIENT_COLOUR}">gradient</font>: the lower number, '
        f"{_html(of)}</td></tr></table>>];"
    )


def dot_text(compiled: Compiled, trace: Trace | None = None) -> str:
    """The forward program of ``compiled`` in the dot language; with ``trace`` (of
    the same program) every wire shows its value and gradient."""
    forward = compiled.forward
    types = forward.types
    rows = {row.name: row for row in trace.rows} if trace is not None else {}
    lines = [
        "digraph backpropgen {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica" fontsize=12];',
        '  edge [fontname="Helvetica" fontsize=11 arrowsize=0.6];',
    ]
    nodes: dict[str, None] = {}
    for name in forward.inputs:
        nodes[name] = None
        lines.append(
            f"  {_quote(name)} [shape=plaintext label=<<b>{_html(name)}</b>>];"
        )
    for stmt in forward.stmts:
        operation = source_statement(stmt).partition(" = ")[2]
        label = f"<b>{_html(stmt.target)}</b><br/>{_html(operation)}"
        nodes[stmt.target] = None
        lines.append(
            f"  {_quote(stmt.target)} [shape=box style=rounded label=<{label}>];"
        )
    for stmt in forward.stmts:
        for name in names_in(stmt.expr):
            if name not in nodes:  # not a value of the program: shown as a name
                nodes[name] = None
                lines.append(f"  {_quote(name)} [shape=plaintext];")
            wire = _wire_label(name, types, trace, rows)
            lines.append(f"  {_quote(name)} -> {_quote(stmt.target)}{wire};")
    for k, output in enumerate(forward.outputs):
        end = f"_out{k}"
        lines.append(f'  {_quote(end)} [shape=plaintext label=""];')
        wire = _wire_label(output, types, trace, rows)
        lines.append(f"  {_quote(output)} -> {_quote(end)}{wire};")
    if trace is not None:
        lines.append("  " + _legend(trace))
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def graph_file(path: str, compiled: Compiled, trace: Trace | None = None) -> bytes:
    """What ``--graph path`` writes for ``compiled`` (the format from the path)."""
    fmt = graph_format(path)
    text = dot_text(compiled, trace)
    return render_graph(text, fmt, len(compiled.forward.stmts), f"--graph {path}")
