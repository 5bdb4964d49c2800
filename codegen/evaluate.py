"""``--at``: run the generated module at one point and tabulate value and gradients.

What runs is the module backpropgen generated (our own output, compiled from the text
we printed), never the user's text.
"""

from __future__ import annotations

import types
import warnings

import numpy as np

from codegen.backends import Backend
from codegen.errors import OptionError
from codegen.formatting import format_module
from codegen.generate import Compiled, compile_source, render_compiled
from codegen.options import Options


def load_module(text: str, name: str = "backpropgen_generated") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our output
    return module


def require_scalar(compiled: Compiled, what: str) -> None:
    """Only scalar programs are evaluated here: refuse an array, naming it."""
    arrays = [n for n, t in compiled.forward.types.items() if t.rank]
    if arrays:
        raise OptionError(
            f"only scalar programs can be evaluated here; '{arrays[0]}' is an array "
            "(import the generated module and call forward_backward instead)",
            what,
        )


def check_point(compiled: Compiled, point: dict[str, float]) -> tuple[str, ...]:
    """Check that ``point`` gives every input (and every tangent of ``jvp``/``hvp``,
    named as its argument: ``x_dot``) and nothing else; return the tangent names."""
    inputs = compiled.forward.inputs
    functions = {f.name: f for f in compiled.functions}
    tangents: tuple[str, ...] = ()
    for name in ("jvp", "hvp"):
        if name in functions:
            tangents = functions[name].params[len(inputs) :]
    allowed = (*inputs, *tangents)
    unknown = [name for name in point if name not in allowed]
    if unknown:
        listed = ", ".join(inputs) or "none"
        if tangents:
            listed += f"; tangents: {', '.join(tangents)}"
        raise OptionError(
            f"'{unknown[0]}' is not an input (inputs: {listed})",
            "--at",
        )
    missing = [name for name in allowed if name not in point]
    if missing:
        what = "input" if missing[0] in inputs else "tangent"
        raise OptionError(f"no value for {what} '{missing[0]}'", "--at")
    return tangents


def point_value(backend: Backend, value: float) -> object:
    """A number as the backend's modules take it: a 0-d float64 tensor for torch, a
    NumPy float64 for the other elementwise backends (NumPy's float rules, as with
    arrays: inf, nan), a float for math."""
    if backend.numbers == "tensor":
        import torch

        return torch.tensor(value, dtype=torch.float64)
    return np.float64(value) if backend.numbers == "numpy" else value


def evaluate_at(
    source: str, options: Options, point: dict[str, float], where: str
) -> list[tuple[str, float]]:
    """The output's value and its gradients at ``point``, named for the table, then
    what the other modes compute there (``--mode``): the tangent (jvp), H·v (hvp),
    the Hessian and the Jacobian.  Tangents and vectors are given like the inputs,
    named as the tangent arguments (``x_dot=1``).  One compile, checked against the
    point, then rendered, formatted and run."""
    compiled = compile_source(source, options, where)
    inputs = compiled.forward.inputs
    require_scalar(compiled, "--at")
    functions = {f.name: f for f in compiled.functions}
    tangents = check_point(compiled, point)
    text = render_compiled(compiled, source, options)
    module = load_module(format_module(text, options.format))
    if not hasattr(module, "forward_backward"):
        raise OptionError(
            "evaluates a module's forward_backward, which this target has not "
            "(drop --target)",
            "--at",
        )
    values = [point[name] for name in inputs]
    vector = [point[name] for name in tangents]
    values = [point_value(compiled.backend, v) for v in values]
    vector = [point_value(compiled.backend, v) for v in vector]
    outputs = compiled.forward.outputs
    wrt = compiled.wrt
    named: list[tuple[str, object]] = []
    try:
        with warnings.catch_warnings():  # NumPy's invalid-value warnings: nan shows it
            warnings.simplefilter("ignore", RuntimeWarning)
            if len(outputs) == 1:
                (output,) = outputs
                value, grads = module.forward_backward(*values)
                named.append((output, value))
                named += [
                    (f"d{output}/d{x}", g) for x, g in zip(wrt, grads, strict=True)
                ]
            else:  # one row of gradients per output: its upstream 1, the others 0
                named += zip(outputs, module.forward(*values), strict=True)
                for k, output in enumerate(outputs):
                    unit = [float(j == k) for j in range(len(outputs))]
                    _, grads = module.forward_backward(*values, *unit)
                    named += [
                        (f"d{output}/d{x}", g) for x, g in zip(wrt, grads, strict=True)
                    ]
            if "jvp" in functions:
                _, tangent = module.jvp(*values, *vector)
                tangents = tangent if len(outputs) > 1 else (tangent,)
                named += [
                    (f"{o}_dot (J·v)", t)
                    for o, t in zip(outputs, tangents, strict=True)
                ]
            if "hvp" in functions:
                _, _, hv = module.hvp(*values, *vector)
                named += [(f"(H·v)[{x}]", e) for x, e in zip(wrt, hv, strict=True)]
            if "hessian" in functions:
                _, _, hessian = module.hessian(*values)
                named += [
                    (f"d2{outputs[0]}/d{a}d{b}", hessian[i][j])
                    for i, a in enumerate(wrt)
                    for j, b in enumerate(wrt)
                ]
            if "jacobian" in functions:
                _, jac = module.jacobian(*values)
                named += [
                    (f"J[{o}, {x}]", jac[i][j])
                    for i, o in enumerate(outputs)
                    for j, x in enumerate(wrt)
                ]
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise OptionError(f"evaluation failed: {exc}", "--at") from None
    return [(name, real_value(name, number)) for name, number in named]


def real_value(name: str, number: object) -> float:
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
