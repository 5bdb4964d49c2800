"""Programs -> a module view: every line printed here, the template only lays them out."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from codegen.ir import Expr, Op, Origin, Program, Stmt, Var
from codegen.printing import Printer, source_statement
from codegen.render import FunctionView, ModuleView
from codegen.rules import CONVENTIONS, POW_CONVENTION
from codegen.shapes import show

if TYPE_CHECKING:
    from codegen.generate import Compiled

#: names the flat target's template defines (the backend's are in its record)
TARGET_NAMES = frozenset(
    {"namedtuple", "Grads", "INPUTS", "OUTPUT", "WRT", "forward", "forward_backward"}
)

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


def origin_text(origin: Origin) -> tuple[str, str]:
    """The comment for a block of derived statements, as (what, gate): the gate part
    is dropped first when the line is too long."""
    if origin.kind == "undo":
        assert origin.stmt is not None
        return source_statement(origin.stmt), origin.gate
    if origin.kind == "upstream":
        upstream, output = origin.names
        if origin.gate == "broadcast":
            return f"the upstream gradient {upstream}, shaped like {output}", ""
        if origin.gate == "check_array":
            what = f"floats of {output}'s shape (a number is broadcast)"
        else:
            what = f"a number, like {output}"
        return f"the upstream gradient {upstream}: {what}", ""
    if origin.kind == "zero":
        output, name = origin.names
        return f"{output} does not depend on {name}", ""
    raise ValueError(f"unknown origin {origin.kind!r}")


def _comment_line(origin: Origin, indent: int) -> str:
    """The comment above a block; a long one loses its gate description, then words
    from its end (never a cut word)."""
    width = WIDTH - indent
    what, gate = origin_text(origin)
    text = "# " + what
    if gate and len(text) + len(gate) + 4 <= width:
        text += f"  ({gate})"
    if len(text) > width:
        text = text[: width - 4].rsplit(" ", 1)[0] + " ..."
    return text


def _lines(
    printer: Printer, stmts: tuple[Stmt, ...], types: Mapping, indent: int = 4
) -> list[str]:
    out: list[str] = []
    previous: Origin | None = None
    for stmt in stmts:
        origin = stmt.origin
        if origin is not None and origin is not previous and origin != previous:
            out.append(_comment_line(origin, indent))
        previous = origin
        lines = printer.statement(stmt).split("\n")
        notes = [stmt.note] if stmt.note else []
        if isinstance(stmt.expr, Op) and stmt.expr.prim == "shift":
            notes.append("shift for stability, no gradient")
        kind = types.get(stmt.target)
        if kind is not None and kind.rank:
            notes.append(show(kind.shape))
        if notes:
            note = f"  # {'; '.join(notes)}"
            if indent + len(lines[0]) + len(note) <= WIDTH:
                lines[0] += note
            else:  # a trailing comment would make black split the statement
                out.append(note.strip())
        out.extend(lines)
    return out


def _tuple(names: tuple[str, ...]) -> str:
    if not names:
        return "()"
    if len(names) == 1:
        return f'("{names[0]}",)'
    return "(" + ", ".join(f'"{n}"' for n in names) + ")"


def _shape_lines(forward: Program) -> list[str]:
    shaped = [(n, forward.types[n]) for n in forward.inputs if n in forward.types]
    if not any(t.rank for _, t in shaped):
        return []
    (output,) = forward.outputs
    parts = [
        f"{n} {show(t.shape)}" + (" int" if t.dtype == "int" else "") for n, t in shaped
    ]
    out = forward.types[output]
    lines = _wrap_words(
        "Shapes: " + ", ".join(parts) + f"; {output} {show(out.shape)}.", WIDTH - 4
    )
    if out.rank:
        lines.append(
            f"The upstream gradient d{output} is required: {output}'s shape, or a "
            "number (broadcast)."
        )
    return [*lines, ""]


def _variable_power(expr: Expr) -> bool:
    return (
        isinstance(expr, Op)
        and expr.prim == "pow"
        and all(isinstance(a, Var) for a in expr.args)
    )


def build_view(compiled: Compiled, source: str, regenerate: str) -> ModuleView:
    forward, vjp, backend = compiled.forward, compiled.vjp, compiled.backend
    printer = Printer(backend.name)
    (output,) = forward.outputs
    (upstream,) = vjp.cotangents
    wrt = vjp.wrt
    title = f"Value and gradients of {output}, generated by backpropgen — do not edit."
    stated = CONVENTIONS
    if any(_variable_power(stmt.expr) for stmt in forward.stmts):
        stated += f"; {POW_CONVENTION}"
    conventions = _wrap_words(f"At non-differentiable points: {stated}.", WIDTH - 4)
    shape_lines = _shape_lines(forward)
    if shape_lines and backend.describe_arrays:
        backend_line = backend.describe_arrays
    else:
        backend_line = backend.describe_scalar
    doc = [
        *_wrap_words(title, WIDTH - 3),
        "",
        "Source:",
        "",
        *source_block(source),
        "",
        *shape_lines,
        _docstring_safe(_fit(f"Regenerate with: {regenerate}", WIDTH)),
        backend_line,
        *conventions,
    ]
    types = dict(forward.types)
    types.update(vjp.types)
    out_type = types.get(output)
    scalar_default = "" if out_type is not None and out_type.rank else "=1.0"
    fb_lines = ["# forward", *_lines(printer, forward.stmts, types)]
    fb_lines += ["", "# backward", *_lines(printer, vjp.stmts, types)]
    grads = ", ".join(vjp.grads)
    fields = ", ".join(f"{n}={g}" for n, g in zip(wrt, vjp.grads, strict=True))
    fb_doc = f"Return ({output}, Grads({fields})); {upstream} is the upstream gradient."
    if len(fb_doc) > WIDTH - 10:
        fb_doc = f"Return ({output}, Grads in WRT order); {upstream} is the upstream gradient."
    forward_lines = _lines(printer, forward.stmts, types)
    imports = printer.imports("from collections import namedtuple")
    params = ", ".join(forward.inputs)
    functions = (
        FunctionView(
            f"forward({params})", f"Return {output}.", tuple(forward_lines), output
        ),
        FunctionView(
            f"forward_backward({', '.join((*forward.inputs, upstream + scalar_default))})",
            fb_doc,
            tuple(fb_lines),
            f"{output}, Grads({grads})",
        ),
    )
    constants = (
        f"INPUTS = {_tuple(forward.inputs)}",
        f'OUTPUT = "{output}"',
        f"WRT = {_tuple(wrt)}",
    )
    return ModuleView("\n".join(doc), tuple(imports), constants, functions)
