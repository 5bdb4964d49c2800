"""``--at``: run the generated module at one point and tabulate value and gradients.

What runs is the module backpropgen generated (our own output, compiled from the text
we printed), never the user's text.
"""

from __future__ import annotations

import types
import warnings

import numpy as np

from codegen.errors import OptionError
from codegen.formatting import format_module
from codegen.generate import compile_source, render_compiled
from codegen.options import Options


def load_module(text: str, name: str = "backpropgen_generated") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our output
    return module


def evaluate_at(
    source: str, options: Options, point: dict[str, float], where: str
) -> list[tuple[str, float]]:
    """The output's value and its gradients at ``point``, named for the table: one
    compile, checked against the point, then rendered, formatted and run."""
    compiled = compile_source(source, options, where)
    inputs = compiled.forward.inputs
    arrays = [n for n, t in compiled.forward.types.items() if t.rank]
    if arrays:
        raise OptionError(
            f"only scalar programs can be evaluated here; '{arrays[0]}' is an array "
            "(import the generated module and call forward_backward instead)",
            "--at",
        )
    unknown = [name for name in point if name not in inputs]
    if unknown:
        raise OptionError(
            f"'{unknown[0]}' is not an input (inputs: {', '.join(inputs) or 'none'})",
            "--at",
        )
    missing = [name for name in inputs if name not in point]
    if missing:
        raise OptionError(f"no value for input '{missing[0]}'", "--at")
    text = render_compiled(compiled, source, options)
    module = load_module(format_module(text, options.format))
    values = [point[name] for name in inputs]
    if compiled.backend.elementwise:  # NumPy's float rules, as with arrays: inf, nan
        values = [np.float64(v) for v in values]
    try:
        with warnings.catch_warnings():  # NumPy's invalid-value warnings: nan shows it
            warnings.simplefilter("ignore", RuntimeWarning)
            value, grads = module.forward_backward(*values)
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise OptionError(f"evaluation failed: {exc}", "--at") from None
    (output,) = compiled.forward.outputs
    named = [(output, value)]
    named += [
        (f"d{output}/d{name}", g) for name, g in zip(compiled.wrt, grads, strict=True)
    ]
    return [(name, _real(name, number)) for name, number in named]


def _real(name: str, number: object) -> float:
    """A value as a float; a complex one (NumPy's 0-d arrays included) is an error
    unless its imaginary part is 0."""
    value = number.item() if hasattr(number, "item") else number
    if isinstance(value, complex):
        if value.imag != 0:
            raise OptionError(
                f"evaluation failed: {name} is complex, {value!r}: outside the real "
                "domain (a negative number to a fractional power?)",
                "--at",
            )
        value = value.real
    return float(value)  # type: ignore[arg-type]


def table(rows: list[tuple[str, float]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value!r}" for name, value in rows)
