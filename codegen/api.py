"""backpropgen from Python: ``import backpropgen as bpg``.

``bpg.generate`` returns a module's text, ``bpg.compile`` a loaded module,
``bpg.verify`` the ``--verify`` check of one, ``bpg.trace`` the ``--trace`` table and
``bpg.graph`` the ``--graph`` picture (both inline in Jupyter).  Options are keyword
arguments named like the command line's long options (``backend="math"``,
``wrt=["x", "y"]`` or ``wrt="x,y"``, ``stable=True``), read through the one options
table (:func:`codegen.options.options_from_api`), so the command line, the manifest and
this API take the same options.  Bad input raises :class:`BackpropgenError`, whose
``str()`` is the command line's one-line message (``line`` and ``column`` are
attributes); nothing is printed, and the warnings the command line prints
(undeclared or unread inputs, unstable spellings) are :class:`BackpropgenWarning`
warnings.
"""

from __future__ import annotations

import argparse
import builtins
import hashlib
import html
import linecache
import os
import sys
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from .errors import BackpropgenError, OptionError
from .options import OPTIONS, Options, options_from_api

if TYPE_CHECKING:
    from .generate import Compiled
    from .trace import Row, Trace
    from .verify import Report

__all__ = [
    "BackpropgenError",
    "BackpropgenWarning",
    "Graph",
    "OptionValues",
    "TraceResult",
    "VerifyResult",
    "compile",
    "generate",
    "graph",
    "trace",
    "verify",
]

#: several names: a list, a tuple or the command line's comma string ("x,y")
Names = str | Sequence[str]
#: a program's text, or the path of a program file (``-f``)
Source = str | os.PathLike[str]


class OptionValues(TypedDict, total=False):
    """The keyword options, one per ``Options`` field of the options table (a test
    checks that they are the same)."""

    backend: str
    wrt: Names
    inputs: Names
    outputs: Names
    mode: Names
    target: str
    name: str
    stable: bool
    chunks: bool
    format: str


class BackpropgenWarning(UserWarning):
    """What the command line prints as ``backpropgen: warning: ...``."""


def _read(source: Source) -> tuple[str, str]:
    """The program's text and the place errors name (``<expr>``, or the file)."""
    if isinstance(source, str):
        return source, "<expr>"
    if isinstance(source, os.PathLike):
        from .sources import read_source

        where = os.fspath(source)
        return read_source(Path(where), where), where
    raise OptionError(f"the source must be a string or a path, not {source!r}")


def _options(text: str, where: str, given: Mapping[str, object]) -> Options:
    """The options, with the command the header names: the command line that writes
    the same module."""
    from .command import _regenerate_command

    options = options_from_api(given)
    spelled = {
        option.name: option.cli_text(getattr(options, option.name))
        for option in OPTIONS
        if option.field and given.get(option.name) is not None
    }
    is_file = where != "<expr>"
    args = argparse.Namespace(
        source=None if is_file else text,
        file=where if is_file else None,
        output=None,
        **spelled,
    )
    return replace(options, regenerate=_regenerate_command(args))


def generate(source: Source, **options: Unpack[OptionValues]) -> str:
    """The module's text, as ``backpropgen SOURCE [options]`` prints it."""
    from .generate import generate_with_warnings

    text, where = _read(source)
    module, found = generate_with_warnings(text, _options(text, where, options), where)
    for warning in found:
        warnings.warn(warning, BackpropgenWarning, stacklevel=2)
    return module


class _Source:
    """The loader of a compiled module: it knows the text, so ``inspect.getsource``
    and tracebacks show the generated lines."""

    def __init__(self, text: str) -> None:
        self.text = text

    def get_source(self, fullname: str) -> str:
        return self.text


def load(text: str) -> types.ModuleType:
    """Import a module's text as ``backpropgen_compiled_<hash of the text>`` in
    ``sys.modules``, its source registered with ``linecache``."""
    name = f"backpropgen_compiled_{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    filename = f"<{name}>"
    loader = _Source(text)
    module = types.ModuleType(name)
    module.__spec__ = ModuleSpec(name, loader, origin=filename)  # type: ignore[arg-type]
    module.__loader__ = loader  # type: ignore[assignment]
    module.__file__ = filename
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    code = builtins.compile(text, filename, "exec")
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - our own output
    except BaseException:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
        raise
    return module


def compile(source: Source, **options: Unpack[OptionValues]) -> types.ModuleType:
    """The generated module, imported (:func:`generate`, then :func:`load`)."""
    return load(generate(source, **options))


@dataclass(frozen=True)
class VerifyResult:
    """The ``--verify`` check: ``ok``, and ``str()`` the table the command prints."""

    report: Report

    @property
    def ok(self) -> bool:
        return self.report.passed

    def __str__(self) -> str:
        return self.report.text().rstrip("\n")

    def __repr__(self) -> str:
        return str(self)


def verify(module: types.ModuleType | str | os.PathLike[str]) -> VerifyResult:
    """Check a module (from :func:`compile`, imported, or a file's path) against
    central differences of its ``forward``, as ``backpropgen --verify`` does."""
    from .verify import verify_file, verify_module

    if isinstance(module, types.ModuleType):
        return VerifyResult(verify_module(module, module.__name__))
    if isinstance(module, str | os.PathLike):
        return VerifyResult(verify_file(os.fspath(module)))
    raise OptionError(f"give a module or a file's path, not {module!r}", "--verify")


def _point(at: Mapping[str, Any]) -> dict[str, Any]:
    """``at=`` as ``--at`` would read it: numbers as floats (other values, such as
    arrays, as given)."""
    if not isinstance(at, Mapping):
        raise OptionError(f"give a dict of the inputs' values, not {at!r}", "--at")
    point: dict[str, Any] = {}
    for name, value in at.items():
        if isinstance(value, str | bytes) or not isinstance(name, str):
            raise OptionError(f"'{name}' = {value!r} is not NAME=NUMBER", "--at")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        point[name] = float(value) if is_number else value
    return point


def _compiled(source: Source, options: Mapping[str, object]) -> tuple[Compiled, str]:
    """The compiled program and its text (an array program is drawn by the
    statements of its text)."""
    from .generate import compile_source

    text, where = _read(source)
    return compile_source(text, _options(text, where, options), where), text


class Graph:
    """The computational graph ``--graph`` draws: inline in Jupyter (SVG), ``.save``
    writes ``.svg``, ``.png`` or ``.dot``; ``dot`` is Graphviz's text."""

    def __init__(self, dot: str, statements: int) -> None:
        self.dot = dot
        self.statements = statements
        self._svg: str | None = None

    def svg(self) -> str:
        """The drawing as SVG text (Graphviz's ``dot`` draws it)."""
        if self._svg is None:
            from .graph import render_graph

            data = render_graph(self.dot, "svg", self.statements, "graph")
            self._svg = data.decode()
        return self._svg

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph to ``path`` (the format from its extension), atomically."""
        from .graph import graph_format, render_graph, write_graph

        name = os.fspath(path)
        where = f"--graph {name}"
        data = render_graph(self.dot, graph_format(name), self.statements, where)
        write_graph(name, data)

    def _repr_svg_(self) -> str | None:
        try:
            return self.svg()
        except BackpropgenError:
            return None  # Jupyter shows __repr__: the reason, in one line

    def __repr__(self) -> str:
        try:
            self.svg()
        except BackpropgenError as exc:
            return str(exc)
        return f"<backpropgen graph of {self.statements} statement(s)>"


def graph(
    source: Source,
    at: Mapping[str, Any] | None = None,
    **options: Unpack[OptionValues],
) -> Graph:
    """The graph of ``source``; with ``at`` (the inputs' values), values and
    gradients on the wires, as ``backpropgen SOURCE --at ... --graph FILE`` draws."""
    from .graph import dot_text
    from .trace import trace_compiled

    compiled, text = _compiled(source, options)
    traced = None if at is None else trace_compiled(compiled, _point(at), None, text)
    return Graph(dot_text(compiled, traced, text), len(compiled.forward.stmts))


class TraceResult:
    """Every statement's value and gradient at a point (``--trace``): ``str()`` is
    the command line's table, Jupyter shows it as an HTML table."""

    def __init__(self, traced: Trace) -> None:
        self.trace = traced

    @property
    def rows(self) -> tuple[Row, ...]:
        return self.trace.rows

    def graph(self) -> Graph:
        """The graph with these values and gradients on its wires."""
        from .graph import dot_text

        compiled = self.trace.compiled
        return Graph(dot_text(compiled, self.trace), len(compiled.forward.stmts))

    def __str__(self) -> str:
        from .trace import trace_table

        return trace_table(self.trace)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head, *body = table_cells(self.trace)
        lines = ["<table>"]
        lines.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head))
        for row in body:
            lines.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row))
        lines.append("</table>")
        return "\n".join(lines)


def table_cells(traced: Trace) -> list[list[str]]:
    """The cells of :func:`codegen.trace.trace_table`, the head first."""
    from .trace import number

    outputs = traced.outputs
    grads = ["gradient"] if len(outputs) == 1 else [f"gradient of {o}" for o in outputs]
    cells = [["name", "statement", "value", *grads]]
    for row in traced.rows:
        cells.append(
            [
                row.name,
                row.statement or "(input)",
                number(row.value),
                *(number(g) if g is not None else "-" for g in row.grads),
            ]
        )
    return cells


def trace(
    source: Source, at: Mapping[str, Any], **options: Unpack[OptionValues]
) -> TraceResult:
    """The value and gradient of every statement of ``source`` at ``at`` (the
    inputs' values), as ``backpropgen SOURCE --at ... --trace`` prints them."""
    from .trace import trace_compiled

    compiled, text = _compiled(source, options)
    return TraceResult(trace_compiled(compiled, _point(at), None, text))
