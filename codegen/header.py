"""The module docstring: title, source, shapes, how to regenerate, the backend, the
functions with their cost, and the conventions in force."""

from __future__ import annotations

import hashlib

from . import chunks
from .compiled import Compiled, Function
from .dims import show
from .ir import Expr, Op, Program, count_ops
from .primitives import CONVENTIONS
from .reverse_rules import where_note
from .targets import TARGETS

WIDTH = 88
MAX_SOURCE_LINES = 30
MAX_SOURCE_WIDTH = 80


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 4] + " ..."


def _wrap_words(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def _docstring_safe(line: str) -> str:
    """A line of user text as docstring text: backslashes doubled, no closing quotes,
    control and bidi characters shown as escapes (never raw in the module)."""
    text = line.expandtabs().rstrip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\\\u{ord(c):04x}" for c in text)


def source_block(source: str) -> list[str]:
    """The source for the header: all of it if short, else its start and a digest."""
    lines = [ln.expandtabs().rstrip() for ln in source.strip("\n").splitlines()]
    shown = lines[:MAX_SOURCE_LINES]
    block = [
        "    " + _docstring_safe(_fit(ln, MAX_SOURCE_WIDTH)) if ln else ""
        for ln in shown
    ]
    cut = len(lines) > MAX_SOURCE_LINES or any(
        len(ln) > MAX_SOURCE_WIDTH for ln in shown
    )
    if cut:
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        block.append("")
        block.append(
            f"    ({len(lines)} lines, {len(source)} characters in all; "
            f"sha256 {digest}...)"
        )
    return block


def _shape_lines(forward: Program, cotangents: tuple[str, ...]) -> list[str]:
    shaped = [(n, forward.types[n]) for n in forward.inputs if n in forward.types]
    if not any(t.rank for _, t in shaped):
        return []
    parts = [
        f"{n} {show(t.shape)}" + (" int" if t.dtype == "int" else "") for n, t in shaped
    ]
    outs = [f"{o} {show(forward.types[o].shape)}" for o in forward.outputs]
    lines = _wrap_words(
        "Shapes: " + ", ".join(parts) + f"; {', '.join(outs)}.", WIDTH - 4
    )
    for output, upstream in zip(forward.outputs, cotangents, strict=True):
        if forward.types[output].rank:
            lines.append(
                f"The upstream gradient {upstream} is required: {output}'s shape, or "
                "a number (broadcast)."
            )
    return [*lines, ""]


def conventions(program: Program) -> list[str]:
    """The convention texts (:data:`codegen.primitives.CONVENTIONS`) of the primitives
    ``program`` applies, in table order, each once."""
    applied: set[str] = set()
    stack: list[Expr] = [stmt.expr for stmt in program.stmts]
    while stack:
        node = stack.pop()
        if isinstance(node, Op):
            convention = CONVENTIONS.get(node.prim)
            if convention is not None and (
                convention.when is None or convention.when(node)
            ):
                applied.add(node.prim)
            stack.extend(node.args)
    texts: dict[str, None] = {}
    for prim, convention in CONVENTIONS.items():
        if prim in applied:
            texts.setdefault(convention.text)
    return list(texts)


def operation_count(function: Function, seen: dict[int, int] | None = None) -> int:
    """The cost of a function as the header states it: ``count_ops`` (one per
    primitive applied) over the statements it runs, +1 per accumulation (``dx = dx +
    ...``).  ``benchmarks/bench_modes.py`` counts the same way.  ``seen`` remembers
    statements counted for another function (forward's are forward_backward's too)."""
    seen = {} if seen is None else seen
    total = 0
    for section in function.sections:
        for stmt in section.stmts:
            count = seen.get(id(stmt))
            if count is None:
                expr = stmt.expr
                flat = isinstance(expr, Op) and not any(
                    isinstance(a, Op) for a in expr.args
                )  # one primitive over names: most statements
                count = 1 if flat else count_ops(expr)
                count = seen[id(stmt)] = count + stmt.accumulate
            total += count
    return total


def _cost_line(functions: tuple[Function, ...]) -> str:
    """Each function's count; ratios are to the first (forward, or a layer's
    forward)."""
    seen: dict[int, int] = {}
    counts = [(f.name, operation_count(f, seen)) for f in functions]
    first, base = counts[0]
    parts = []
    for name, count in counts:
        if name == first or not base:
            parts.append(f"{name} {count}")
        else:
            parts.append(f"{name} {count} ({count / base:.1f}x)")
    return (
        f"Cost in operations (primitives applied, +1 per accumulation; ratio to {first}): "
        + ", ".join(parts)
        + "."
    )


def _functions_line(compiled: Compiled) -> str:
    """What the module's functions are, as the target's record describes each mode."""
    writes = TARGETS[compiled.target].writes
    how = compiled.jacobian_mode
    per = "output" if how == "reverse" else "input"
    parts = [
        writes[mode].format(name=compiled.name, how=how, per=per)
        for mode in compiled.modes
    ]
    return "Functions: " + "; ".join(parts) + "."


def header(compiled: Compiled, source: str, regenerate: str) -> list[str]:
    """The module docstring's lines: title, source, shapes, how to regenerate, the
    backend, the functions and the conventions in force."""
    forward, vjp, backend = compiled.forward, compiled.vjp, compiled.backend
    outputs = forward.outputs
    title = (
        f"Value and gradients of {', '.join(outputs)}, generated by backpropgen — "
        "do not edit."
    )
    stated = conventions(forward)
    convention_lines = (
        _wrap_words(f"At non-differentiable points: {'; '.join(stated)}.", WIDTH - 4)
        if stated
        else []
    )
    notes = [*compiled.notes, *filter(None, [where_note(forward)])]
    shape_lines = _shape_lines(forward, vjp.cotangents)
    if shape_lines and backend.describe_arrays:
        backend_line = backend.describe_arrays
    else:
        backend_line = backend.describe_scalar
    return [
        *_wrap_words(title, WIDTH - 3),
        "",
        "Source:",
        "",
        *source_block(source),
        "",
        *shape_lines,
        _docstring_safe(_fit(f"Regenerate with: {regenerate}", WIDTH)),
        *_wrap_words(backend_line, WIDTH - 4),
        *_wrap_words(_functions_line(compiled), WIDTH - 4),
        *_wrap_words(_cost_line(compiled.functions), WIDTH - 4),
        *(_wrap_words(chunks.HEADER, WIDTH - 4) if compiled.chunks else []),
        *convention_lines,
        *(line for note in notes for line in _wrap_words(note, WIDTH - 4)),
    ]
