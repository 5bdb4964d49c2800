"""What ``--verify`` reads from a module: importing it, its constants checked into a
:class:`Spec`, and the bindings of its size symbols to small sizes.

Only the module's constants and functions are read, never its header text.  A size is
an integer or a symbol expression (``N``, ``N - 1``, ``4*H``, ``H//2``) read with
:mod:`ast` against a whitelist (names, integers, ``+ - * //``), never evaluated as Python.
"""

from __future__ import annotations

import ast
import importlib.util
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .errors import BackpropgenError

#: generic sizes, in order of the symbols' first appearance
GENERIC_SIZES = (3, 4, 5, 6, 7, 8, 9, 10)
MAX_BINDINGS = 8
#: the functions checked, in the report's order
FUNCTIONS = ("forward_backward", "jvp", "hvp", "hessian", "jacobian")


class VerifyError(BackpropgenError):
    """The module cannot be verified (not a backpropgen module, fails to import, no
    shapes): one line, exit status 2."""


def load_file(path: Path, where: str) -> ModuleType:
    """Import the module at ``path`` (running its code: the user asked for it)."""
    if not path.is_file():
        raise VerifyError("no such file", where)
    name = f"_backpropgen_verify_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise VerifyError("not a Python module (name it MODULE.py)", where)
    module = importlib.util.module_from_spec(spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
    except Exception as exc:  # any failure of the user's module is reported, one line
        raise VerifyError(f"fails to import: {one_line(exc)}", where) from None
    return module


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(frozen=True)
class Spec:
    """What verifying needs from a module, read from its constants."""

    inputs: tuple[str, ...]
    wrt: tuple[str, ...]
    outputs: tuple[str, ...]
    several: bool  # OUTPUTS: forward returns a tuple
    shapes: Mapping[str, tuple[int | str, ...]]
    integers: Mapping[str, tuple[int | str, ...]]
    functions: tuple[str, ...]

    @property
    def symbols(self) -> list[str]:
        seen: dict[str, None] = {}
        for name in self.inputs:
            for dim in self.shapes[name]:
                if isinstance(dim, str):
                    for symbol in _symbols_in(dim):
                        seen.setdefault(symbol)
        for dims in self.integers.values():
            for dim in dims:
                if isinstance(dim, str):
                    for symbol in _symbols_in(dim):
                        seen.setdefault(symbol)
        return list(seen)

    @property
    def sizes(self) -> list[int | str]:
        """Every size the inputs' shapes and ``INTEGERS`` state."""
        found = [d for name in self.inputs for d in self.shapes[name]]
        return found + [d for dims in self.integers.values() for d in dims]


def _names(value: object) -> tuple[str, ...] | None:
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def read_spec(module: ModuleType, where: str) -> Spec:
    """The module's constants, checked: a module that lacks one is one error."""
    inputs = _names(getattr(module, "INPUTS", None))
    wrt = _names(getattr(module, "WRT", None))
    several = hasattr(module, "OUTPUTS")
    outputs = (
        _names(module.OUTPUTS)
        if several
        else (
            (module.OUTPUT,)
            if isinstance(getattr(module, "OUTPUT", None), str)
            else None
        )
    )
    missing = [
        what
        for what, ok in (
            ("INPUTS", inputs is not None),
            ("WRT", wrt is not None),
            ("OUTPUT", outputs is not None),
            ("forward", callable(getattr(module, "forward", None))),
            ("forward_backward", callable(getattr(module, "forward_backward", None))),
        )
        if not ok
    ]
    if missing:
        raise VerifyError(
            f"not a backpropgen module: no {missing[0]} (generate one with backpropgen)",
            where,
        )
    assert inputs is not None and wrt is not None and outputs is not None
    shapes = getattr(module, "SHAPES", None)
    if not isinstance(shapes, Mapping):
        raise VerifyError(
            "has no SHAPES (the input shapes --verify needs); regenerate it with this "
            "backpropgen",
            where,
        )
    for name in inputs:
        if name not in shapes:
            raise VerifyError(f"SHAPES has no entry for input '{name}'", where)
        shape = shapes[name]
        if not isinstance(shape, tuple) or not all(_dim_ok(d) for d in shape):
            raise VerifyError(
                f"SHAPES['{name}'] is not a tuple of sizes and symbols: {shape!r}",
                where,
            )
    integers = getattr(module, "INTEGERS", {})
    if not isinstance(integers, Mapping) or not all(
        isinstance(v, tuple) and all(_dim_ok(d) for d in v) for v in integers.values()
    ):
        raise VerifyError("INTEGERS is not a mapping of names to sizes", where)
    for name in wrt:
        if name not in inputs or name in integers:
            raise VerifyError(f"WRT names '{name}', not a float input", where)
    functions = tuple(f for f in FUNCTIONS if callable(getattr(module, f, None)))
    return Spec(inputs, wrt, outputs, several, dict(shapes), dict(integers), functions)


def _dim_ok(dim: object) -> bool:
    if isinstance(dim, bool):
        return False
    if isinstance(dim, int):
        return dim >= 0
    if isinstance(dim, str):
        try:
            _symbols_in(dim)
        except ValueError:
            return False
        return True
    return False


def _symbols_in(text: str) -> list[str]:
    """The symbols of a size: a name, or sums, differences and products of names and
    integers and floor divisions by an integer (``N - 1``, ``4*H``, ``H//2``); anything
    else is a ValueError (never evaluated)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(text) from None
    names: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult
        ):
            stack += [node.right, node.left]
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.FloorDiv)
            and isinstance(node.right, ast.Constant)
            and type(node.right.value) is int
            and node.right.value > 0
        ):
            stack.append(node.left)
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            pass
        else:
            raise ValueError(text)
    return names


def size_of(dim: int | str, binding: Mapping[str, int]) -> int:
    """The size ``dim`` stands for once its symbols are bound."""
    if isinstance(dim, int):
        return dim

    def value(node: ast.expr) -> int:
        if isinstance(node, ast.Name):
            return binding[node.id]
        if isinstance(node, ast.Constant):
            return int(node.value)
        assert isinstance(node, ast.BinOp)
        a, b = value(node.left), value(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.FloorDiv):
            return a // b
        return a * b

    return value(ast.parse(dim, mode="eval").body)


def bindings(
    symbols: Sequence[str], sizes: Sequence[int | str] = ()
) -> list[dict[str, int]]:
    """Sizes for the symbols: distinct sizes, all 1, and each symbol 1 in turn; those
    that make one of ``sizes`` (``H - 2``) less than 1 are left out, and the distinct
    sizes grow until every size is at least 1."""
    if not symbols:
        return [{}]

    def fits(binding: dict[str, int]) -> bool:
        return all(size_of(d, binding) >= 1 for d in sizes)

    base = {s: GENERIC_SIZES[i % len(GENERIC_SIZES)] for i, s in enumerate(symbols)}
    generic = base
    for extra in range(1, 64):
        if fits(generic):
            break
        generic = {s: v + extra for s, v in base.items()}
    found = [generic, {s: 1 for s in symbols}]
    if len(symbols) > 1:
        found += [{**generic, s: 1} for s in symbols]
    return [b for b in found if fits(b)][:MAX_BINDINGS]


def show_binding(binding: Mapping[str, int]) -> str:
    """``N=3 D=4``, or ``-`` for a module without symbols."""
    return " ".join(f"{k}={v}" for k, v in binding.items()) or "-"
