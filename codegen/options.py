"""The options of one module, declared once.

``OPTIONS`` has one record per command-line option about one module, in ``--help``
order.  Each record says how argparse offers it, how its value is read from the command
line and from the manifest (``[tool.backpropgen.modules.NAME]``), and whether the
regenerate command in a generated header repeats it.  ``command.py``, ``regen.py`` and
the Python API (``api.py``) only loop over the table.  A new option is one record here (and, when the pipeline reads it,
one field of ``Options``, with its default there).

Values read from the manifest are checked for their type here; a value outside the
choices is left to the stage that uses it (as ``--backend`` in ``generate``), which
names the option in its error.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from .backends import BACKENDS
from .errors import OptionError

#: what a value is: one string, a list of names (``"x,y"`` on the command line; that
#: string or a TOML list in the manifest), or a flag (no value: True when given)
Kind = Literal["text", "names", "flag"]
#: a value as ``Options`` holds it
Value = str | tuple[str, ...] | bool | None


@dataclass(frozen=True)
class Options:
    """What the pipeline needs to know about one module besides its source."""

    backend: str = "numpy"
    wrt: tuple[str, ...] | None = None
    inputs: tuple[str, ...] | None = None
    regenerate: str = "backpropgen --regen"  # the command the header names
    format: str = "auto"
    mode: tuple[str, ...] = ("grad",)
    outputs: tuple[str, ...] | None = None
    target: str = "flat"
    name: str = "layer"
    stable: bool = False  # rewrite unstable spellings (log(1 + exp(x)) -> softplus(x))
    chunks: bool = False  # add in_chunks(function, *args): a batch in slices


@dataclass(frozen=True)
class Option:
    """One command-line option about one module.

    ``name`` is the argparse destination, the manifest key and the ``Options`` field
    (when ``field``).  The default is the ``Options`` field's default."""

    name: str
    flag: str
    help: str
    kind: Kind = "text"
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    many: bool = False  # several arguments after one flag (--at x=1 y=2), extended
    field: bool = True  # an ``Options`` field (--at is not: it evaluates instead)
    manifest: bool = True  # a key of [tool.backpropgen.modules.NAME]
    regenerate: bool = True  # repeated in the header's command when not the default

    @property
    def default(self) -> Value:
        return getattr(Options(), self.name) if self.field else None

    def is_default(self, text: object) -> bool:
        """Whether the command line's ``text`` spells the default (``grad`` for
        ``("grad",)``)."""
        default = self.default
        if isinstance(default, tuple) and isinstance(text, str):
            return tuple(part.strip() for part in text.split(",")) == default
        return text == default

    def from_cli(self, text: str | bool) -> Value:
        """The value of ``--flag TEXT`` (argparse has checked the choices), or True
        for a given ``flag``."""
        if self.kind == "flag":
            return True
        assert isinstance(text, str)
        if self.kind == "names":
            from .naming import name_list  # imports sympy: not for --help

            return name_list(text, self.flag)
        return text

    def from_toml(self, value: object, where: str) -> Value:
        """The value of the manifest key in the table ``where``."""
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise OptionError(f"'{self.name}' must be true or false", where)
            return value
        if self.kind == "names":
            from .naming import name_list

            return name_list(value, f"{where} {self.name}")
        if not isinstance(value, str):
            raise OptionError(f"'{self.name}' must be a string", where)
        return value

    def from_api(self, value: object) -> Value:
        """The value of the keyword argument of the Python API named like the option
        (``backend="math"``, ``wrt=["x", "y"]`` or ``wrt="x,y"``, ``stable=True``);
        errors name the option as the command line does."""
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise OptionError(f"must be True or False, not {value!r}", self.flag)
            return value
        if self.kind == "names":
            from .naming import name_list

            return name_list(
                list(value) if isinstance(value, tuple) else value, self.flag
            )
        if not isinstance(value, str):
            raise OptionError(f"must be a string, not {value!r}", self.flag)
        if self.choices is not None and value not in self.choices:
            choices = ", ".join(repr(c) for c in self.choices)
            raise OptionError(
                f"invalid choice: {value!r} (choose from {choices})", self.flag
            )
        return value

    def cli_text(self, value: Value) -> str | bool | None:
        """How the command line spells ``value`` (an ``Options`` field's value), for
        :func:`command_line`; None for a flag that is off."""
        if isinstance(value, tuple):
            return ",".join(value)
        if isinstance(value, bool):
            return True if value else None
        return value


OPTIONS: tuple[Option, ...] = (
    Option(
        "backend",
        "--backend",
        "default: numpy",
        choices=tuple(BACKENDS),
    ),
    Option(
        "wrt",
        "--wrt",
        "gradients for these inputs only: x,y",
        kind="names",
    ),
    Option(
        "inputs",
        "--inputs",
        "the inputs, in this order: x,y,z",
        kind="names",
    ),
    Option(
        "outputs",
        "--outputs",
        "the outputs, in this order: u,v (default: the last statement's value)",
        kind="names",
    ),
    Option(
        "mode",
        "--mode",
        "what the module computes, comma-separated: grad (default), jvp, hvp, "
        "hessian, jacobian",
        kind="names",
    ),
    Option(
        "target",
        "--target",
        "the layout: flat (forward, forward_backward), layer (CS231n pair with a "
        "cache), function (torch.autograd.Function; torch backend)",
        choices=("flat", "layer", "function"),
    ),
    Option(
        "name",
        "--name",
        "the layer's name: NAME_forward, NAME_backward (default: layer)",
    ),
    Option(
        "stable",
        "--stable",
        "rewrite unstable spellings (log(sigmoid(x)), log(1 + exp(x)), log(1 + x), "
        "exp(x) - 1, log(sum(exp(a)))) as log_sigmoid, softplus, log1p, expm1, "
        "logsumexp instead of warning about them",
        kind="flag",
    ),
    Option(
        "chunks",
        "--chunks",
        "add in_chunks(function, *args), which evaluates a large batch a slice "
        "at a time, in bounded memory (numpy backend, scalar programs)",
        kind="flag",
    ),
    Option(
        "at",
        "--at",
        "evaluate the program at a point; print the value and gradients (an "
        "array's shape and a summary)",
        metavar="NAME=VALUE",
        many=True,
        field=False,
        manifest=False,
        regenerate=False,
    ),
    Option(
        "random",
        "--random",
        "evaluate at random values, drawn from SEED, for the inputs --at does not "
        "give: floats standard normal, integers 0 to the smallest size less 1; "
        "--at gives an array program's sizes (--at N=4 D=3 --random 0)",
        metavar="SEED",
        field=False,
        manifest=False,
        regenerate=False,
    ),
    Option(
        "verify",
        "--verify",
        "check the module against central differences of its forward: "
        "backpropgen --verify MODULE.py, or EXPR --verify to generate and check",
        kind="flag",
        field=False,
        manifest=False,
        regenerate=False,
    ),
    Option(
        "trace",
        "--trace",
        "with --at: a table of every statement's value and gradient",
        kind="flag",
        field=False,
        manifest=False,
        regenerate=False,
    ),
    Option(
        "graph",
        "--graph",
        "also write the computational graph to FILE (.svg, .png or .dot); "
        "with --at, with values and gradients",
        metavar="FILE",
        field=False,
        manifest=False,
        regenerate=False,
    ),
    Option(
        "format",
        "--format",
        "auto: black for small modules, black on long lines only for large ones",
        choices=("auto", "black", "fast"),
        manifest=False,
        regenerate=False,
    ),
)

#: the manifest keys besides the options: where the source comes from
SOURCE_KEYS = ("source", "file")
MANIFEST_KEYS = frozenset(SOURCE_KEYS) | {o.name for o in OPTIONS if o.manifest}


def options_from_cli(given: Mapping[str, object]) -> Options:
    """``Options`` from the command line's strings (``None``: not given); the caller
    sets ``regenerate``."""
    values: dict[str, Value] = {}
    for option in OPTIONS:
        text = given.get(option.name)
        if option.field and text is not None:
            assert isinstance(text, str | bool)
            values[option.name] = option.from_cli(text)
    return replace(Options(), **values)


def api_options() -> dict[str, Option]:
    """The options the Python API takes as keyword arguments: every ``Options`` field
    of the table (``--at``, ``--verify``, ``--trace`` and ``--graph`` are functions
    of their own there)."""
    return {option.name: option for option in OPTIONS if option.field}


def options_from_api(given: Mapping[str, object]) -> Options:
    """``Options`` from the Python API's keyword arguments (``None``: the default);
    the caller sets ``regenerate``."""
    known = api_options()
    values: dict[str, Value] = {}
    for key, value in given.items():
        option = known.get(key)
        if option is None:
            raise OptionError(f"unknown option '{key}' (options: {', '.join(known)})")
        if value is not None:
            values[key] = option.from_api(value)
    return replace(Options(), **values)


def options_from_toml(spec: Mapping[str, object], where: str) -> Options:
    """``Options`` from a module's manifest table ``where`` (its keys already checked);
    the caller sets ``regenerate``."""
    values: dict[str, Value] = {}
    for option in OPTIONS:
        if option.manifest and option.name in spec:
            values[option.name] = option.from_toml(spec[option.name], where)
    return replace(Options(), **values)


def command_line(given: Mapping[str, object]) -> list[str]:
    """The options the regenerate command repeats: each given one that is not the
    default, as the user wrote it (``--wrt 'x, y'``)."""
    parts: list[str] = []
    for option in OPTIONS:
        text = given.get(option.name)
        if option.regenerate and text is not None and not option.is_default(text):
            if option.kind == "flag":
                parts.append(option.flag)
                continue
            assert isinstance(text, str)
            parts += [option.flag, shlex.quote(text)]
    return parts
