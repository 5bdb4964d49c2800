"""What the stages hand to the printers: the layout of a module's functions (pure
data) and :class:`Compiled`, the programs behind a module.

This module sits below every stage that builds or prints a module
(:mod:`codegen.modes`, :mod:`codegen.module`, :mod:`codegen.autograd`) and below the
orchestrator :mod:`codegen.generate` that joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .backends import Backend
from .ir import Program, Stmt, Type
from .reverse import VJP


@dataclass(frozen=True)
class Section:
    """A titled run of statements (``# forward``); an empty title prints none."""

    title: str
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True)
class Grads:
    """``Grads(dx, dy)``: values in ``WRT`` order."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Matrix:
    """Rows of entries (names, or ``None`` for an entry that is zero), assembled into
    ``name`` where the backend needs statements for it; ``points`` are the inputs whose
    broadcast shape is the batch's (an entry that is a number is spread over it)."""

    rows: tuple[tuple[str | None, ...], ...]
    name: str
    points: tuple[str, ...] = ()


@dataclass(frozen=True)
class Values:
    """A value, or a tuple of values for several outputs."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Cache:
    """``Cache(x, w, t1_shape)``: what a layer's backward reads, saved by its forward.
    ``shapes`` maps a value the backward reads only for its shape to the cache field
    that holds that shape instead of the value."""

    names: tuple[str, ...]
    shapes: Mapping[str, str] = field(default_factory=dict)


Returned = Values | Grads | Matrix | Cache


@dataclass(frozen=True)
class Function:
    """One generated function: ``name(*params)``, its sections and what it returns
    (one item is returned as is, several as a tuple)."""

    name: str
    params: tuple[str, ...]
    doc: str
    sections: tuple[Section, ...]
    returns: tuple[Returned, ...]
    defaults: Mapping[str, str] = field(default_factory=dict)
    short_doc: str = ""  # the docstring when ``doc`` is too long for one line
    #: names to unpack from the parameter ``cache`` before the body (a layer's
    #: backward), or None
    unpack: tuple[str, ...] | None = None
    #: value -> cache field holding its shape: the backward makes a stand-in of that
    #: shape (no data) for each, after unpacking
    shapes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Compiled:
    """The programs behind a module: for tests, benchmarks and ``--at``."""

    forward: Program
    vjp: VJP
    backend: Backend
    #: the module's functions, in order, and the types of every name they use
    functions: tuple[Function, ...] = ()
    types: Mapping[str, Type] = field(default_factory=dict)
    modes: tuple[str, ...] = ("grad",)
    #: how ``jacobian`` is computed ("forward" or "reverse"), if the module has it
    jacobian_mode: str = ""
    target: str = "flat"
    name: str = "layer"
    #: warnings for the user (undeclared or unread inputs, see
    #: ``codegen.arguments.input_warnings``; unstable spellings, see ``codegen.stable``):
    #: the CLI prints them on stderr; library code never prints
    warnings: tuple[str, ...] = ()
    #: sentences the header adds about how the program was read (what ``--stable``
    #: rewrote, reassigned names)
    notes: tuple[str, ...] = ()
    #: the module has the ``in_chunks`` helper (``--chunks``)
    chunks: bool = False

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
