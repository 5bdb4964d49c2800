"""One record per target (``--target``): the layout a module's functions take.

A target states the functions it writes for each mode it supports (or one line saying
why it does not write a mode), how its module view is built and the names its layout
defines.  Stages read the record; none compares target names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .backends import Backend
from .compiled import Function
from .errors import OptionError
from .modes import autograd_functions, grad_functions, layer_functions
from .naming import Namer
from .reverse import VJP

#: the names every module's constants define (``INPUTS = ...``)
CONSTANTS = frozenset({"INPUTS", "OUTPUT", "OUTPUTS", "WRT", "SHAPES", "INTEGERS"})

#: the header's description of each mode's function ({how}, {per}: the jacobian's way)
MODE_FUNCTIONS: Mapping[str, str] = {
    "jvp": "jvp (forward mode)",
    "hvp": "hvp (forward over reverse mode)",
    "hessian": "hessian (forward over reverse, one sweep per input)",
    "jacobian": "jacobian ({how} mode, one sweep per {per})",
}


@dataclass(frozen=True)
class Target:
    name: str
    #: the functions reverse mode (``grad``) writes, from the VJP, ``--name``, the
    #: module's namer and the backend
    layout: Callable[[VJP, str, Namer, Backend], tuple[Function, ...]]
    #: mode -> the header's description of what it writes ({name}: ``--name``)
    writes: Mapping[str, str]
    #: mode -> why the target does not write it (one line)
    refuses: Mapping[str, str]
    #: how the module view is built: "module" (:mod:`codegen.module`) or "autograd"
    #: (:mod:`codegen.autograd`, a ``torch.autograd.Function``)
    view: str
    #: the names its layout defines, at module level or as parameters ({name}:
    #: ``--name``): the namer never mints them and a program may not use them
    reserved: frozenset[str]
    #: the functions ``--name`` names (checked against the other reserved names)
    named: tuple[str, ...] = ()
    #: needs a backend with a ``torch.autograd.Function`` layout
    autograd: bool = False
    #: its functions take points, so ``--chunks`` can slice a batch of them
    chunks: bool = False

    def names(self, name: str) -> frozenset[str]:
        """The reserved names with ``--name`` filled in."""
        return frozenset(n.format(name=name) for n in self.reserved)


TARGETS: dict[str, Target] = {
    "flat": Target(
        name="flat",
        layout=grad_functions,
        writes={
            "grad": "forward and forward_backward (reverse mode)",
            **MODE_FUNCTIONS,
        },
        refuses={},
        view="module",
        reserved=CONSTANTS | {"namedtuple", "Grads", "forward", "forward_backward"},
        chunks=True,
    ),
    "layer": Target(
        name="layer",
        layout=layer_functions,
        writes={
            "grad": (
                "{name}_forward and {name}_backward (reverse mode, split at the cache)"
            ),
            **MODE_FUNCTIONS,
        },
        refuses={},
        view="module",
        reserved=CONSTANTS
        | {"namedtuple", "Grads", "Cache", "CACHE", "cache"}
        | {"{name}_forward", "{name}_backward"},
        named=("{name}_forward", "{name}_backward"),
    ),
    "function": Target(
        name="function",
        layout=autograd_functions,
        writes={
            "grad": "Function, a torch.autograd.Function (reverse mode), and apply",
            "jvp": "jvp (forward mode), beside the Function",
            "hvp": "hvp (forward over reverse mode), beside the Function",
        },
        refuses={
            mode: f"{mode} is not written beside a torch.autograd.Function "
            "(use --mode hvp or jvp)"
            for mode in ("hessian", "jacobian")
        },
        view="autograd",
        reserved=CONSTANTS | {"namedtuple", "Grads", "Function", "apply", "ctx"},
        autograd=True,
    ),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise OptionError(
            f"unknown target '{name}' (choose from {', '.join(TARGETS)})", "--target"
        ) from None


def refuse_modes(target: Target, modes: tuple[str, ...]) -> None:
    """Each mode asked for is one ``target`` writes, else its one-line refusal."""
    for mode in modes:
        if mode in target.refuses:
            raise OptionError(
                target.refuses[mode], f"--mode {mode} with --target {target.name}"
            )
        assert mode in target.writes, f"target {target.name} lacks mode {mode}"


def check_program_names(target: Target, name: str, names: list[str]) -> None:
    """No name of the program is one the target's layout defines (``Cache`` under
    ``--target layer``, ``ctx`` under ``--target function``)."""
    reserved = target.names(name)
    for used in names:
        if used in reserved:
            raise OptionError(
                f"'{used}' is a name the {target.name} target's module defines; "
                "choose another name in the program",
                f"--target {target.name}",
            )
