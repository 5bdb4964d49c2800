"""The pipeline: source -> parse -> linearize -> reverse -> print -> render -> format."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from codegen.errors import OptionError
from codegen.formatting import format_module
from codegen.ir import Program, Stmt
from codegen.linearize import linearize
from codegen.module import build_view
from codegen.options import Options
from codegen.parse import parse
from codegen.printing import BACKENDS
from codegen.render import render
from codegen.reverse import reverse


@dataclass(frozen=True)
class Compiled:
    """The programs behind a module: for tests, benchmarks and ``--at``."""

    forward: Program
    reverse: Program
    upstream: str
    wrt: tuple[str, ...]


def _live(program: Program) -> Program:
    """Drop statements the output does not depend on (they would be dead code)."""
    from codegen.ir import names_in

    live = set(program.outputs)
    keep: list[Stmt] = []
    for stmt in reversed(program.stmts):
        if stmt.target in live:
            keep.append(stmt)
            live.update(names_in(stmt.expr))
    return Program(
        program.inputs, tuple(reversed(keep)), program.outputs, types=program.types
    )


def compile_source(source: str, options: Options, where: str = "<expr>") -> Compiled:
    if options.backend not in BACKENDS:
        raise OptionError(
            f"unknown backend '{options.backend}' (choose {' or '.join(BACKENDS)})",
            "--backend",
        )
    forward = _live(linearize(parse(source, where), options.inputs))
    arrays = any(t.rank for t in forward.types.values())
    if arrays and options.backend != "numpy":
        raise OptionError(
            "array programs need the numpy backend", f"--backend {options.backend}"
        )
    program, upstream, wrt = reverse(
        forward,
        options.wrt,
        broadcast_upstream=options.backend == "numpy" and not arrays,
        check_upstream=arrays,
        copy_aliases=options.backend == "numpy",
    )
    return Compiled(forward, program, upstream, wrt)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector: the IR is frozen, acyclic data, and on
    programs of 100,000 statements collections double the time of every stage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate(source: str, options: Options = Options(), where: str = "<expr>") -> str:
    """The formatted module for ``source``."""
    with _no_cycle_collection():
        return _generate(source, options, where)


def _generate(source: str, options: Options, where: str) -> str:
    return format_module(render_unformatted(source, options, where), options.format)


def render_unformatted(source: str, options: Options, where: str = "<expr>") -> str:
    """The module text before black: what the printer and the template write."""
    return render_compiled(compile_source(source, options, where), source, options)


def render_compiled(compiled: Compiled, source: str, options: Options) -> str:
    """``render_unformatted`` for programs already compiled (``--at`` compiles once)."""
    view = build_view(
        compiled.forward,
        compiled.reverse,
        compiled.upstream,
        compiled.wrt,
        source,
        options.backend,
        options.regenerate,
    )
    return render(view)
