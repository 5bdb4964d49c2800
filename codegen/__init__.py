"""backpropgen: expressions and flat programs -> readable, flat backprop code.

From Python: ``import backpropgen as bpg``, then ``bpg.generate``, ``bpg.compile``,
``bpg.verify``, ``bpg.graph`` and ``bpg.trace`` (:mod:`codegen.api`); in Jupyter,
``%load_ext backpropgen`` adds the cell magic ``%%backpropgen``
(:mod:`codegen.notebook`)."""

from __future__ import annotations

import sys
import types
from typing import Any

from .api import (
    BackpropgenWarning,
    Graph,
    OptionValues,
    TraceResult,
    VerifyResult,
    compile,
    generate,
    graph,
    load,
    trace,
    verify,
)
from .errors import BackpropgenError, InputError, MissingRuleError, OptionError

__version__ = "0.1.0"

__all__ = [
    "BackpropgenError",
    "BackpropgenWarning",
    "Graph",
    "InputError",
    "MissingRuleError",
    "OptionError",
    "OptionValues",
    "TraceResult",
    "VerifyResult",
    "compile",
    "generate",
    "graph",
    "load",
    "load_ipython_extension",
    "trace",
    "verify",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext backpropgen``: the cell magic ``%%backpropgen NAME [options]``."""
    from .notebook import load_ipython_extension as load_magic

    load_magic(ipython)


#: the API functions named like the submodules that implement them
_SHADOWED = frozenset({"generate", "graph", "trace", "verify"})


class _Package(types.ModuleType):
    """This package, whose functions ``generate``, ``graph``, ``trace`` and ``verify``
    keep their names when the submodules of the same names are imported (the import
    system sets a submodule as an attribute of its package): ``bpg.graph`` is the
    function; the module is ``sys.modules["backpropgen.graph"]``, imported with
    ``from backpropgen.graph import ...``."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
