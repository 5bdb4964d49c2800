"""The checks of a program's signature against the source and the options: its
dimension names (never assigned or declared), the inputs listed by ``--inputs`` and the
outputs named by ``--outputs`` or the program's last line; and the warnings about a
program's inputs (:func:`input_warnings`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping

from .errors import InputError, OptionError
from .hints import closest
from .naming import name_problem, repeated
from .parse import Parsed


def check_dimensions(
    parsed: Parsed, dims: dict[str, tuple[str, int]], targets: dict[str, int]
) -> None:
    """A dimension name (``N`` in ``X: array[N, D]``) stands for a size: reading it
    gives ``X.shape[0]``, so it can be neither assigned nor declared as an input."""
    decls = dict(parsed.decls)
    for dim, (source, _) in dims.items():
        line = targets.get(dim)
        if line is None and dim in decls:
            line = decls[dim].line
        if line is not None:
            raise InputError(
                f"'{dim}' is a dimension of {source} (line {decls[source].line}); "
                "give this value another name",
                f"{parsed.where}:{line}",
            )


def check_outputs(
    parsed: Parsed, listed: tuple[str, ...] | None, targets: dict[str, int]
) -> tuple[str, ...] | None:
    """The outputs named by ``--outputs`` or the last line, each an assigned value."""
    if listed is not None:
        what = "--outputs"
        twice = repeated(listed)
        if twice is not None:
            raise OptionError(f"'{twice}' is listed twice", what)
    elif parsed.outputs is not None:
        listed, what = parsed.outputs, f"{parsed.where}:{parsed.outputs_line}"
    else:
        return None
    for name in listed:
        if name not in targets:
            assigned = ", ".join(targets) or "none"
            problem = f"output '{name}' is not assigned in the program"
            if len(assigned) <= 60:
                problem += f" (assigned: {assigned})"
            if what == "--outputs":
                raise OptionError(problem, what)
            raise InputError(problem, what)
    return listed


def check_listed(
    listed: tuple[str, ...],
    used: tuple[str, ...],
    targets: dict[str, int],
    dims: dict[str, tuple[str, int]],
    what: str,
) -> tuple[str, ...]:
    twice = repeated(listed)
    if twice is not None:
        raise OptionError(f"'{twice}' is listed twice", what)
    for name in listed:
        problem = name_problem(name)
        if problem is not None:
            raise OptionError(problem, what)
        if name in dims:
            source, _ = dims[name]
            raise OptionError(
                f"'{name}' is a dimension of {source}, not an input", what
            )
    missing = [name for name in used if name not in listed]
    if missing:
        raise OptionError(
            f"input {', '.join(repr(m) for m in missing)} is used but not listed "
            f"(listed: {', '.join(listed)})",
            what,
        )
    return tuple(listed)


#: warnings of each kind shown one by one; the rest are counted in one more line
MAX_EACH = 10


def input_warnings(
    parsed: Parsed,
    read_at: Mapping[str, ast.Name],
    used: Collection[str],
    listed: tuple[str, ...] | None = None,
) -> list[str]:
    """In a program that declares its inputs: each undeclared name read as a value
    (where it is first read, with the nearest declared or assigned name when one is
    close: a typo), then each declared input never read (``used`` are the inputs read,
    as values or for a dimension).  Names listed by ``--inputs`` are inputs by the
    user's word and get no warning."""
    if not parsed.declared:
        return []
    declared = frozenset(parsed.declared)
    given = frozenset(listed or ())
    known = list(parsed.declared) + [
        s.target for s in parsed.statements if s.target is not None
    ]
    undeclared = [
        (name, node)
        for name, node in read_at.items()
        if name not in declared and name not in given
    ]
    found: list[str] = []
    for name, node in undeclared[:MAX_EACH]:
        place = f"{parsed.where}:{node.lineno}:{node.col_offset + 1}"
        message = f"{place}: '{name}' is not declared, so it is a scalar input"
        near = closest(name, (k for k in known if k != name))
        found.append(f"{message}; did you mean '{near}'?" if near else message)
    if len(undeclared) > MAX_EACH:
        name, node = undeclared[MAX_EACH]
        found.append(
            f"{parsed.where}:{node.lineno}:{node.col_offset + 1}: '{name}' and "
            f"{len(undeclared) - MAX_EACH - 1:,} more names are not declared, so they "
            "are scalar inputs"
        )
    unread = [(name, decl) for name, decl in parsed.decls if name not in used]
    for name, decl in unread[:MAX_EACH]:
        column = _declared_column(parsed.lines[decl.line - 1], name)
        found.append(
            f"{parsed.where}:{decl.line}:{column}: '{name}' is declared but never read"
        )
    if len(unread) > MAX_EACH:
        name, decl = unread[MAX_EACH]
        found.append(
            f"{parsed.where}:{decl.line}: '{name}' and {len(unread) - MAX_EACH - 1:,} "
            "more declared inputs are never read"
        )
    return found


def _declared_column(line: str, name: str) -> int:
    """The 1-based column of ``name: ...`` on its line (1 if not found)."""
    match = re.search(rf"(?<!\w){re.escape(name)}\s*:", line)
    return match.start() + 1 if match else 1
