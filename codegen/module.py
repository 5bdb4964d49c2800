"""Programs -> a module view: every line printed here, the template only lays them out."""

from __future__ import annotations

from collections.abc import Mapping

from . import chunks
from .compiled import Cache, Compiled, Function, Grads, Returned, Values
from .dims import dim_text
from .header import WIDTH, header
from .ir import Dim, Op, Origin, Program, Stmt, Var
from .primitives import INDEX_PRESERVING
from .printing import Printer, source_statement
from .render import FunctionView, ModuleView
from .shapes import show


def origin_text(origin: Origin) -> tuple[str, str]:
    """The comment for a block of derived statements, as (what, gate): the gate part
    is dropped first when the line is too long."""
    if origin.kind == "undo":
        assert origin.stmt is not None
        return source_statement(origin.stmt), origin.gate
    if origin.kind == "upstream":
        upstream, output = origin.names
        if origin.gate == "broadcast":
            return (
                f"the upstream gradient {upstream}, shaped like {output}"
                " (or np.float64 when both are numbers)",
                "",
            )
        if origin.gate == "check_array":
            what = f"floats of {output}'s shape (a number is broadcast)"
        else:
            what = f"a number, like {output}"
        return f"the upstream gradient {upstream}: {what}", ""
    if origin.kind == "zero":
        output, name = origin.names
        return f"{output} does not depend on {name}", ""
    if origin.kind == "inner":
        y, x, upstream = origin.names
        return (
            f"grad({y}, {x}): backpropagation inside the program ({upstream} = 1)",
            "",
        )
    if origin.kind == "seed":
        (upstream,) = origin.names
        return f"the upstream gradient {upstream} is 1", ""
    if origin.kind == "shared":
        assert origin.stmt is not None
        return (
            f"{source_statement(origin.stmt)}: its derivative, for the tangent and "
            "the backward",
            "",
        )
    if origin.kind == "tangent-zero":
        (output,) = origin.names
        return f"{output} does not depend on the differentiated inputs", ""
    raise ValueError(f"unknown origin {origin.kind!r}")


#: origins whose statements need no comment: a tangent statement follows the
#: statement it differentiates; a loop's statements get their iteration's heading
SILENT = frozenset({"tangent", "loop"})


def iteration(stmt: Stmt) -> str:
    """The heading of the loop iteration a statement belongs to: ``t = 2`` for a
    statement of the loop (or its tangent), ``t = 2 (backward)`` for one that undoes
    it (or the tangent of one); "" for statements outside loops."""
    origin = stmt.origin
    backward = False
    while origin is not None and origin.kind != "loop":  # one step per derivation
        backward = backward or origin.kind == "undo"
        origin = origin.stmt.origin if origin.stmt is not None else None
    if origin is None:
        return ""
    return origin.names[0] + (" (backward)" if backward else "")


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
    heading = ""
    for stmt in stmts:
        # a tangent statement stays under the heading of the statement it follows
        tangent = stmt.origin is not None and stmt.origin.kind == "tangent"
        label = heading if tangent else iteration(stmt)
        if label != heading:
            if out and out[-1]:
                out.append("")  # iterations are paragraphs
            if label:
                out.append(f"# {label}")
            heading = label
            previous = None
        origin = stmt.origin
        if origin is not None and origin.kind in SILENT:
            pass  # a tangent statement stays inside the block it follows
        elif origin is not None and origin is not previous and origin != previous:
            out.append(_comment_line(origin, indent))
            previous = origin
        else:
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


def _dim(dim: Dim) -> str:
    """A size in ``SHAPES``: an int, or a Python expression string (``"4*H"``)."""
    return str(dim) if isinstance(dim, int) else f'"{dim_text(dim)}"'


def _shape_tuple(shape: tuple[Dim, ...]) -> str:
    if len(shape) == 1:
        return f"({_dim(shape[0])},)"
    return "(" + ", ".join(_dim(d) for d in shape) + ")"


def index_bounds(program: Program) -> dict[str, list[Dim]]:
    """For each integer input, the sizes of the axes it indexes (``a[i, y]``
    gathers along axis 1 of ``a``: ``y`` indexes that size), in statement order;
    reshapes and copies of the input count as the input."""
    source = {
        name: name
        for name in program.inputs
        if name in program.types and program.types[name].dtype == "int"
    }
    bounds: dict[str, list[Dim]] = {name: [] for name in source}
    for stmt in program.stmts:
        expr = stmt.expr
        if not isinstance(expr, Op):
            continue
        if expr.prim in INDEX_PRESERVING and expr.args:
            first = expr.args[0]
            if isinstance(first, Var) and first.name in source:
                source[stmt.target] = source[first.name]
        elif expr.prim == "gather" and isinstance(expr.args[0], Var):
            base = program.types.get(expr.args[0].name)
            for axis, index in enumerate(expr.args[1:]):
                if isinstance(index, Var) and index.name in source and base:
                    found = bounds[source[index.name]]
                    if axis < base.rank and base.shape[axis] not in found:
                        found.append(base.shape[axis])
    return bounds


def _input_constants(forward: Program) -> list[str]:
    """``SHAPES`` (every input's declared shape, ``()`` for a number) and, where there
    are integer inputs, ``INTEGERS`` (the sizes each one indexes): what ``--verify``
    needs to call the functions at random points."""
    shapes = ", ".join(
        f'"{n}": {_shape_tuple(forward.types[n].shape if n in forward.types else ())}'
        for n in forward.inputs
    )
    lines = [f"SHAPES = {{{shapes}}}"]
    bounds = index_bounds(forward)
    if bounds:
        entries = ", ".join(
            f'"{n}": {_shape_tuple(tuple(dims))}' for n, dims in bounds.items()
        )
        lines.append(f"INTEGERS = {{{entries}}}")
    return lines


def _returned(
    item: Returned, printer: Printer, matrix_style: str
) -> tuple[list[str], str]:
    """Lines to run before ``return`` and the text of one returned item."""
    if isinstance(item, Values):
        return [], (
            item.names[0] if len(item.names) == 1 else f"({', '.join(item.names)})"
        )
    if isinstance(item, Grads):
        return [], f"Grads({', '.join(item.names)})"
    if isinstance(item, Cache):
        saved = (f"{n}.shape" if n in item.shapes else n for n in item.names)
        return [], f"Cache({', '.join(saved)})"
    entries = [[name or "0.0" for name in row] for row in item.rows]
    if matrix_style == "tuple":
        rows = ", ".join(
            "(" + ", ".join(row) + ("," if len(row) == 1 else "") + ")"
            for row in entries
        )
        return [], "(" + rows + ("," if len(entries) == 1 else "") + ")"
    # numpy: entries may be numbers or arrays of the batch's shape; broadcast with the
    # inputs (so a matrix of numbers gets the batch's shape too), keep the entries, stack
    n, m = len(entries), len(entries[0]) if entries else 0
    flat = ", ".join([name for row in entries for name in row] + list(item.points))
    array = printer.ref("numpy", "array")
    broadcast = printer.ref("numpy", "broadcast_arrays")
    name = item.name
    return [
        f"# {name}'s entries, each spread over the points (the inputs' shape)",
        f"{name} = {array}({broadcast}({flat})[:{n * m}], dtype=float)",
        f"{name} = {name}.reshape(({n}, {m}) + {name}.shape[1:])",
    ], name


def cache_fields(names: tuple[str, ...], shapes: Mapping[str, str]) -> tuple[str, ...]:
    """A cache's fields: each value's name, or its shape's where only that is kept."""
    return tuple(shapes.get(n, n) for n in names)


def _standins(
    shapes: Mapping[str, str], printer: Printer, standin: tuple[str, str] | None
) -> list[str]:
    """``t1 = np.broadcast_to(0.0, t1_shape)``: arrays of the cached shapes that hold
    no data, for the statements that read only a shape."""
    if not shapes:
        return []
    assert standin is not None
    spread = printer.ref(*standin)
    return [
        f"# {', '.join(shapes)}: read only for their shapes (no data is kept)",
        *(f"{n} = {spread}(0.0, {field})" for n, field in shapes.items()),
    ]


def function_view(
    function: Function,
    printer: Printer,
    types: Mapping,
    matrix_style: str,
    standin: tuple[str, str] | None = None,
) -> FunctionView:
    """A function printed: its sections (titled ``# forward`` ...), then the lines
    that assemble a matrix, if it returns one."""
    lines: list[str] = []
    if function.unpack:  # a layer's backward: the values its forward cached
        fields = cache_fields(function.unpack, function.shapes)
        names = ", ".join(fields)
        if len(fields) == 1:
            names = f"({names},)"
        lines.append(f"{names} = cache")
        lines.extend(_standins(function.shapes, printer, standin))
    for section in function.sections:
        if section.title:
            if lines:
                lines.append("")
            lines.append(f"# {section.title}")
        lines.extend(_lines(printer, section.stmts, types))
    returned: list[str] = []
    for item in function.returns:
        before, text = _returned(item, printer, matrix_style)
        lines.extend(before)
        returned.append(text)
    params = ", ".join(
        f"{p}={function.defaults[p]}" if p in function.defaults else p
        for p in function.params
    )
    doc = function.doc
    if len(doc) > WIDTH - 10 and function.short_doc:
        doc = function.short_doc
    return FunctionView(
        f"{function.name}({params})", doc, tuple(lines), ", ".join(returned)
    )


def io_constants(compiled: Compiled) -> list[str]:
    """``INPUTS``, ``OUTPUT`` (or ``OUTPUTS``) and ``WRT``."""
    forward, outputs = compiled.forward, compiled.forward.outputs
    return [
        f"INPUTS = {_tuple(forward.inputs)}",
        (
            f'OUTPUT = "{outputs[0]}"'
            if len(outputs) == 1
            else f"OUTPUTS = {_tuple(outputs)}"
        ),
        f"WRT = {_tuple(compiled.vjp.wrt)}",
        *_input_constants(forward),
    ]


def _taken(compiled: Compiled) -> set[str]:
    """Every name the module's functions use or define (no math function may be
    imported under one of them)."""
    taken = set(compiled.forward.inputs)
    for f in compiled.functions:
        taken.add(f.name)
        taken.update(f.params)
        taken.update(f.unpack or ())
        for section in f.sections:
            taken.update(stmt.target for stmt in section.stmts)
    return taken


def build_view(compiled: Compiled, source: str, regenerate: str) -> ModuleView:
    """The view of a module of plain functions (the flat and layer targets)."""
    backend = compiled.backend
    printer = Printer(backend.name, compiled.types, _taken(compiled))
    doc = header(compiled, source, regenerate)
    functions = tuple(
        function_view(f, printer, compiled.types, backend.matrix, backend.standin)
        for f in compiled.functions
    )
    cache = [
        f"CACHE = {_tuple(cache_fields(item.names, item.shapes))}"
        for f in compiled.functions
        for item in f.returns
        if isinstance(item, Cache)
    ]
    if cache:
        cache.append('Cache = namedtuple("Cache", CACHE)')
    helper: tuple[str, ...] = ()
    if compiled.chunks:
        printer.uses(chunks.IN_CHUNKS)
        helper = chunks.IN_CHUNKS.lines
    imports = printer.imports(
        "from collections import namedtuple", *([chunks.IMPORT] if helper else [])
    )
    constants = (
        *io_constants(compiled),
        *cache,
        *([chunks.CONSTANT] if helper else []),
    )
    return ModuleView(
        "\n".join(doc),
        tuple(imports),
        constants,
        functions,
        helper=helper,
        definitions=printer.helper_lines(),
    )
