"""Statements -> Python source lines for a backend: ``numpy``, ``math``, ``torch`` or
``source`` (the user's own notation, for comments).

Each backend is one literal table from primitive to a small printing function, in a
module of its own (:mod:`codegen.print_numpy`, :mod:`codegen.print_math`,
:mod:`codegen.print_torch`, :mod:`codegen.print_source`); the printer's core (the
operators and their precedence, the building blocks, import lines and helpers) is
:mod:`codegen.print_core`, which no table module imports back into.  :data:`TABLES`
finds a table by backend name; :class:`Printer` is the core's printer with it.

A new backend is one table module, an entry in :data:`TABLES` and, for a new module of
the printed code, one in :data:`~codegen.print_core.MODULES`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from .ir import Stmt
from .print_core import HELPERS, MODULES, Helper, Pi, Rule, TablePrinter
from .print_math import MATH
from .print_numpy import NUMPY
from .print_source import SOURCE
from .print_torch import TORCH

if TYPE_CHECKING:
    from .ir import Type

__all__ = [
    "HELPERS",
    "MATH",
    "MODULES",
    "NUMPY",
    "SOURCE",
    "TABLES",
    "TORCH",
    "Helper",
    "Printer",
    "source_statement",
]

#: backend -> (its table, how it writes pi: (module, attribute) or (None, bare name),
#: the modules whose attributes it imports by name).  The math backend writes
#: ``from math import cos, exp``: a global name is one dictionary look-up where
#: ``math.cos`` is two (benchmarks/RESULTS-calls.txt).
TABLES: dict[str, tuple[dict[str, Rule], Pi, frozenset[str]]] = {
    "numpy": (NUMPY, ("numpy", "pi"), frozenset()),
    "math": (MATH, ("math", "pi"), frozenset({"math"})),
    "torch": (TORCH, ("math", "pi"), frozenset()),
    "source": (SOURCE, (None, "pi"), frozenset()),
}


class Printer(TablePrinter):
    """The printer of backend ``backend`` (a key of :data:`TABLES`); ``types``: the
    program's types, name -> :class:`~codegen.shapes.Type`; ``taken``: every name
    the printed module uses, when known (then the backend may import functions by
    name, for the ones no name takes)."""

    __slots__ = ()

    def __init__(
        self,
        backend: str,
        types: Mapping[str, Type] | None = None,
        taken: Collection[str] | None = None,
    ) -> None:
        if backend not in TABLES:
            raise ValueError(f"unknown backend {backend!r}")
        rules, pi, by_name = TABLES[backend]
        super().__init__(backend, rules, pi, types, by_name, taken)


_SOURCE = Printer("source")


def source_statement(stmt: Stmt) -> str:
    """A statement in the user's notation: ``f = sigmoid(e)``."""
    return _SOURCE.statement(stmt)
