"""The pipeline: source -> parse -> linearize -> reverse (+ the backend's passes) ->
print -> render -> format."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from codegen import passes
from codegen.backends import Backend, get_backend
from codegen.errors import OptionError
from codegen.formatting import format_module
from codegen.ir import Program, all_names
from codegen.linearize import linearize
from codegen.liveness import prune
from codegen.module import TARGET_NAMES, build_view
from codegen.naming import Namer, repeated
from codegen.options import Options
from codegen.parse import parse
from codegen.render import render
from codegen.reverse import VJP, differentiable_inputs, reverse
from codegen.shapes import SCALAR

__all__ = ["Compiled", "Options", "compile_source", "generate", "render_unformatted"]


@dataclass(frozen=True)
class Compiled:
    """The programs behind a module: for tests, benchmarks and ``--at``."""

    forward: Program
    vjp: VJP
    backend: Backend

    @property
    def wrt(self) -> tuple[str, ...]:
        return self.vjp.wrt

    @property
    def upstream(self) -> str:
        (upstream,) = self.vjp.cotangents
        return upstream

    @property
    def reverse(self) -> Program:
        """Forward and backward joined: inputs and the upstream gradient in, the
        output and then the gradients (in ``wrt`` order) out."""
        return self.vjp.joined()


def check_wrt(program: Program, wrt: tuple[str, ...] | None) -> tuple[str, ...]:
    """``--wrt`` (default: every float input), checked against the program."""
    if wrt is None:
        return differentiable_inputs(program)
    for name in wrt:
        if name not in program.inputs:
            raise OptionError(
                f"'{name}' is not an input (inputs: {', '.join(program.inputs) or 'none'})",
                "--wrt",
            )
        kind = program.types.get(name, SCALAR)
        if not kind.differentiable:
            raise OptionError(
                f"'{name}' is an {kind.dtype} input: it has no gradient", "--wrt"
            )
    twice = repeated(wrt)
    if twice is not None:
        raise OptionError(f"'{twice}' is listed twice", "--wrt")
    return wrt


def module_namer(program: Program, backend: Backend) -> Namer:
    """The one namer of a module: the program's names, the target's and the
    backend's are taken."""
    return Namer(all_names(program), TARGET_NAMES | backend.reserved)


def compile_source(source: str, options: Options, where: str = "<expr>") -> Compiled:
    backend = get_backend(options.backend)
    forward = prune(linearize(parse(source, where), options.inputs))
    return differentiate(forward, backend, options.wrt)


def differentiate(
    forward: Program, backend: Backend, wrt: tuple[str, ...] | None = None
) -> Compiled:
    """Reverse mode of a forward program, with the passes ``backend`` needs."""
    arrays = any(t.rank for t in forward.types.values())
    if arrays and not backend.arrays:
        raise OptionError(
            "array programs need the numpy backend", f"--backend {backend.name}"
        )
    wrt = check_wrt(forward, wrt)
    namer = module_namer(forward, backend)
    vjp = passes.share(reverse(forward, wrt, namer), namer)
    policy = backend.upstream_policy(arrays)
    vjp = passes.seed_upstream(vjp, policy)
    if backend.mutable:
        vjp = passes.copy_aliases(vjp, backend.views, fresh_upstream=policy is not None)
    return Compiled(forward, vjp, backend)


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


def generate(source: str, options: Options | None = None, where: str = "<expr>") -> str:
    """The formatted module for ``source`` (default options if None)."""
    options = options or Options()
    with _no_cycle_collection():
        return format_module(render_unformatted(source, options, where), options.format)


def render_unformatted(source: str, options: Options, where: str = "<expr>") -> str:
    """The module text before black: what the printer and the template write."""
    return render_compiled(compile_source(source, options, where), source, options)


def render_compiled(compiled: Compiled, source: str, options: Options) -> str:
    """``render_unformatted`` for programs already compiled (``--at`` compiles once)."""
    return render(build_view(compiled, source, options.regenerate))
