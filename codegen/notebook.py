"""Jupyter: ``%load_ext backpropgen``, then the cell magic

    %%backpropgen net --inputs x,y,z --at x=-2 y=5 z=-4
    q = y*z
    f = x + q

The cell is the program.  The line's first word is the name the generated module is
bound to in the notebook; the other words are the command line's options, split as a
shell splits them and read by the command line's own parser (never evaluated).  Shown,
inline: the module's code, syntax-highlighted; with ``--at``, the ``--trace`` table and
the graph with values and gradients on its wires; with ``--verify``, the check's table.
``--graph FILE`` also writes the graph to FILE.  An error is shown as its one-line
message (no traceback) and binds nothing; without Graphviz's ``dot`` the graph is one
line saying how to get it, and the rest still shows.
"""

from __future__ import annotations

import argparse
import keyword
import shlex
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from .errors import BackpropgenError, OptionError

if TYPE_CHECKING:
    from .generate import Compiled
    from .trace import Trace

MAGIC = "%%backpropgen"
#: the place errors in the cell name (``<cell>:2:5: ...``)
WHERE = "<cell>"


def load_ipython_extension(ipython: Any) -> None:
    """Register the cell magic ``%%backpropgen`` with the running IPython."""

    def backpropgen(line: str, cell: str) -> None:
        """%%backpropgen NAME [options]: generate the cell's program, bind NAME to
        the module, and show its code (with --at: the trace table and the graph)."""
        run_magic(ipython.user_ns, line, cell)

    ipython.register_magic_function(backpropgen, magic_kind="cell")


def run_magic(namespace: MutableMapping[str, Any], line: str, cell: str) -> None:
    """Run the magic: bind the module in ``namespace`` and display what it shows;
    an error is printed on stderr in one line."""
    from IPython.display import display

    try:
        name, args = parse_line(line, cell)
        module, shown, found = _build(args, cell)
    except BackpropgenError as exc:
        print(f"backpropgen: error: {exc}", file=sys.stderr)
        return
    for warning in found:
        print(f"backpropgen: warning: {warning}", file=sys.stderr)
    namespace[name] = module
    for item in shown:
        display(item)


def parse_line(line: str, cell: str) -> tuple[str, argparse.Namespace]:
    """The name to bind and the command line's arguments, the cell as the source."""
    from .command import _parse_args

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise OptionError(f"cannot split the options: {exc}", MAGIC) from None
    if not words or words[0].startswith("-"):
        raise OptionError("name the module first: %%backpropgen NAME [options]", MAGIC)
    name = words[0]
    if not name.isidentifier() or keyword.iskeyword(name):
        raise OptionError(f"'{name}' is not a Python name to bind", MAGIC)
    args = _parse_args(words[1:])
    given = [
        ("an expression", args.source),
        ("-f", args.file),
        ("-o", args.output),
        ("--regen", args.regen or None),
        ("--check", args.check or None),
    ]
    for what, value in given:
        if value is not None:
            raise OptionError(f"the cell is the program: drop {what}", MAGIC)
    args.source = cell
    return name, args


def _build(
    args: argparse.Namespace, cell: str
) -> tuple[Any, list[object], tuple[str, ...]]:
    """The module, what to display, and the warnings (all before anything shows)."""
    from IPython.display import Code

    from .api import Graph, TraceResult, load, verify
    from .command import _options
    from .generate import compile_source, generate_with_warnings
    from .graph import dot_text, graph_format

    if args.graph is not None:
        graph_format(args.graph)  # a bad path is refused before any work
    options = _options(args)
    text, found = generate_with_warnings(cell, options, WHERE)
    module = load(text)
    shown: list[object] = [Code(text, language="python")]
    picture = None
    if args.at:
        compiled = compile_source(cell, options, WHERE)
        result = TraceResult(_trace(compiled, args, cell))
        picture = result.graph()
        shown += [result, picture]
    elif args.graph is not None:
        compiled = compile_source(cell, options, WHERE)
        picture = Graph(dot_text(compiled, None, cell), len(compiled.forward.stmts))
    if args.graph is not None and picture is not None:
        picture.save(args.graph)
    if args.verify:
        shown.append(verify(module))
    return module, shown, found


def _trace(compiled: Compiled, args: argparse.Namespace, cell: str) -> Trace:
    """The trace at ``--at NAME=VALUE ...`` (with ``--random SEED``, random arrays of
    the sizes given), the cell's statements kept for the graph."""
    from .command import _seed, at_point
    from .trace import trace_compiled

    seed = None if args.random is None else _seed(args.random)
    return trace_compiled(compiled, at_point(args.at), seed, cell)
