"""The pipeline: source -> parse -> linearize -> grad_pass -> reverse (+ the backend's
passes) and the modes -> the target's layout -> print -> render -> format."""

from __future__ import annotations

import gc
import importlib.util
import keyword
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from . import autograd, passes, stable
from .backends import Backend, get_backend
from .compiled import Compiled, Function, Grads, Matrix, Values
from .errors import OptionError
from .formatting import format_module
from .grad_pass import expand_grads
from .header import header
from .ir import SCALAR, Program, Type, all_names
from .linearize import REASSIGNMENT_RULE, linearize, reassigns
from .liveness import prune
from .modes import (
    check_modes,
    hessian_function,
    hvp_function,
    jacobian_function,
    jvp_function,
)
from .module import build_view
from .naming import Namer, repeated
from .options import Options
from .parse import parse
from .render import ModuleView, render
from .reverse import VJP, differentiable_inputs, reverse
from .targets import Target, check_program_names, get_target, refuse_modes

__all__ = ["Compiled", "Options", "compile_source", "generate", "render_unformatted"]


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


def module_namer(
    program: Program, backend: Backend, target: str = "flat", name: str = "layer"
) -> Namer:
    """The one namer of a module: the program's names, the target's and the
    backend's are taken."""
    names = get_target(target).names(name)
    return Namer(all_names(program), names | backend.reserved)


def compile_source(source: str, options: Options, where: str = "<expr>") -> Compiled:
    backend = get_backend(options.backend)
    if options.chunks:
        check_chunks_backend(backend)
    parsed = parse(source, where)
    if options.stable:
        parsed, findings = stable.rewrite(parsed)
        warnings: tuple[str, ...] = ()
        sentence = stable.header_sentence(findings)
        notes: tuple[str, ...] = (sentence,) if sentence else ()
    else:
        warnings = tuple(f.message for f in stable.find(parsed))
        notes = ()
    if reassigns(parsed):
        notes += (REASSIGNMENT_RULE,)
    about_inputs: list[str] = []
    linear = linearize(parsed, options.inputs, options.outputs, about_inputs)
    warnings = tuple(about_inputs) + warnings
    flat = expand_grads(linear)
    forward = prune(stable.norms(flat))
    compiled = differentiate(
        forward, backend, options.wrt, options.mode, options.target, options.name
    )
    if options.chunks:
        check_chunks(compiled)
    return replace(compiled, warnings=warnings, notes=notes, chunks=options.chunks)


def check_chunks_backend(backend: Backend) -> None:
    """``--chunks`` needs a backend whose results it can join (checked before the
    backend's own requirements: installing torch would not make it work)."""
    if not backend.chunks:
        raise OptionError(
            "the in_chunks helper joins NumPy arrays: it needs --backend numpy",
            f"--chunks with --backend {backend.name}",
        )


def check_chunks(compiled: Compiled) -> None:
    """``--chunks`` (its backend checked already): the helper slices a batch of
    points, so every argument must be a point (or a batch of them)."""
    if any(t.rank for t in compiled.forward.types.values()):
        raise OptionError(
            "in_chunks is for scalar programs (an array program's inputs have no "
            "common batch axis to slice)",
            "--chunks",
        )
    if not get_target(compiled.target).chunks:
        raise OptionError(
            "in_chunks needs the flat target (layer_backward takes a cache, not points)",
            f"--chunks with --target {compiled.target}",
        )


def differentiate(
    forward: Program,
    backend: Backend,
    wrt: tuple[str, ...] | None = None,
    modes: tuple[str, ...] = ("grad",),
    target: str = "flat",
    name: str = "layer",
) -> Compiled:
    """The module's functions for ``modes``: reverse mode with the passes ``backend``
    needs, and the other modes composed from the same transforms."""
    modes = check_modes(modes)
    layout = check_target(target, name, backend)
    refuse_modes(layout, modes)
    check_program_names(layout, name, all_names(forward))
    arrays = any(t.rank for t in forward.types.values())
    if arrays and not backend.arrays:
        raise OptionError(
            "array programs need the numpy backend", f"--backend {backend.name}"
        )
    if backend.requires and importlib.util.find_spec(backend.requires) is None:
        raise OptionError(
            f"{backend.requires} is not installed: pip install {backend.requires} "
            f"(in a backpropgen checkout: pip install '.[{backend.extra}]')",
            f"--backend {backend.name}",
        )
    for mode in ("hessian", "jacobian"):
        if mode in modes and not backend.matrix:
            raise OptionError(
                f"{mode} is not generated for the {backend.name} backend yet "
                "(use --mode hvp or jvp)",
                f"--mode {mode}",
            )
    if arrays:
        for mode in ("hessian", "jacobian"):
            if mode in modes:
                raise OptionError(
                    f"{mode} is for scalar programs; for arrays use --mode "
                    + ("hvp" if mode == "hessian" else "jvp or grad"),
                    f"--mode {mode}",
                )
    wrt = check_wrt(forward, wrt)
    namer = module_namer(forward, backend, target, name)
    raw = passes.share(reverse(forward, wrt, namer), namer)
    policy = backend.upstream_policy(arrays)
    vjp = passes.seed_upstream(raw, policy)
    if backend.mutable:
        vjp = passes.copy_aliases(vjp, backend.views, fresh_upstream=policy is not None)
    types: dict[str, Type] = dict(forward.types)
    types.update(vjp.types)
    functions: list[Function] = list(layout.layout(vjp, name, namer, backend))
    batched = policy == "broadcast"  # a seed of 1 is shaped like the output
    how = ""
    for mode in modes[1:]:
        if mode == "jvp":
            function, new_types = jvp_function(forward, wrt, namer)
        elif mode == "hvp":
            function, new_types, _ = hvp_function(_scalar(raw, mode), namer, batched)
        elif mode == "hessian":
            function, new_types = hessian_function(_scalar(raw, mode), namer, batched)
        else:
            function, new_types, how = jacobian_function(forward, wrt, namer, batched)
        types.update(new_types)
        if backend.mutable:
            function = _unaliased(function, backend, types)
        functions.append(function)
    return Compiled(
        forward, vjp, backend, tuple(functions), types, modes, how, target, name
    )


def check_target(target: str, name: str, backend: Backend) -> Target:
    """``--target`` and ``--name``: a known layout the backend can print, and a
    function name that is an identifier clashing with nothing the module defines."""
    layout = get_target(target)
    if layout.autograd and not backend.autograd:
        raise OptionError(
            "a torch.autograd.Function needs the torch backend (--backend torch)",
            f"--target {target}",
        )
    if not name.isidentifier() or keyword.iskeyword(name):
        raise OptionError(f"'{name}' is not a valid function name", "--name")
    named = {n.format(name=name) for n in layout.named}
    others = (layout.names(name) - named) | backend.reserved
    for function in sorted(named):
        if function in others:
            raise OptionError(
                f"'{function}' is a name the module already uses", "--name"
            )
    return layout


def _scalar(vjp: VJP, mode: str) -> VJP:
    if len(vjp.primal.outputs) != 1:
        raise OptionError(
            f"{mode} needs one scalar output; this program has "
            f"{len(vjp.primal.outputs)} ({', '.join(vjp.primal.outputs)})",
            f"--mode {mode}",
        )
    (output,) = vjp.primal.outputs
    if vjp.primal.types.get(output, SCALAR).rank:
        raise OptionError(
            f"{mode} needs a scalar output; '{output}' is an array "
            "(reduce it first, e.g. with sum)",
            f"--mode {mode}",
        )
    return vjp


def _unaliased(function: Function, backend: Backend, types: Mapping) -> Function:
    """The function with returned arrays copied where they would be an argument's
    array or the same array as another returned one."""
    returned = [
        name
        for item in function.returns
        for name in _returned_names(item)
        if types.get(name, SCALAR).rank or not any(t.rank for t in types.values())
    ]
    stmts = tuple(s for section in function.sections for s in section.stmts)
    fixed = passes.unalias(stmts, returned, function.params, backend.views)
    sections = []
    start = 0
    for section in function.sections:
        end = start + len(section.stmts)
        sections.append(replace(section, stmts=fixed[start:end]))
        start = end
    return replace(function, sections=tuple(sections))


def _returned_names(item: object) -> list[str]:
    if isinstance(item, Values | Grads):
        return list(item.names)
    if isinstance(item, Matrix):
        return [n for row in item.rows for n in row if n is not None]
    return []


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
    text, _ = generate_with_warnings(source, options, where)
    return text


def generate_with_warnings(
    source: str, options: Options | None = None, where: str = "<expr>"
) -> tuple[str, tuple[str, ...]]:
    """:func:`generate`, and the warnings about the program (undeclared or unread
    inputs, unstable spellings), one line each, for the caller to show."""
    options = options or Options()
    with _no_cycle_collection():
        compiled = compile_source(source, options, where)
        text = render_compiled(compiled, source, options)
        return format_module(text, options.format), compiled.warnings


def render_unformatted(source: str, options: Options, where: str = "<expr>") -> str:
    """The module text before black: what the printer and the template write."""
    return render_compiled(compile_source(source, options, where), source, options)


def render_compiled(compiled: Compiled, source: str, options: Options) -> str:
    """``render_unformatted`` for programs already compiled (``--at`` compiles once)."""
    return render(module_view(compiled, source, options.regenerate))


def module_view(compiled: Compiled, source: str, regenerate: str) -> ModuleView:
    """The view of the module, built as the target's record says."""
    view = get_target(compiled.target).view
    if view == "autograd":
        return autograd.function_view(compiled, header(compiled, source, regenerate))
    return build_view(compiled, source, regenerate)
