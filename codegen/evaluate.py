"""``--at``: run the generated module at one point and tabulate value and gradients.

What runs is the module backpropgen generated (our own output, compiled from the text
we printed), never the user's text.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Mapping

import numpy as np

from .backends import Backend
from .dims import Dim, dim_names, dim_text
from .errors import OptionError
from .formatting import format_module
from .generate import Compiled, compile_source, render_compiled
from .options import Options
from .shapes import SCALAR, show
from .verify_spec import size_of


def load_module(text: str, name: str = "backpropgen_generated") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(text, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our output
    return module


#: a value at a point: a number, or a NumPy array for an array input
Value = float | int | np.ndarray


def sizes_of(compiled: Compiled) -> tuple[str, ...]:
    """The named sizes of the inputs' declarations (``N, D`` of ``X: array[N, D]``),
    in order: ``--at`` gives them with ``--random``."""
    types = compiled.forward.types
    found: dict[str, None] = {}
    for name in compiled.forward.inputs:
        for dim in types.get(name, SCALAR).shape:
            for symbol in dim_names(dim):
                found[symbol] = None
    return tuple(found)


def _length(dim: Dim, bound: Mapping[str, int]) -> int | None:
    """The length a size stands for with the names ``bound``, None while one of its
    names is not bound."""
    if isinstance(dim, int):
        return dim
    if any(name not in bound for name in dim_names(dim)):
        return None
    return size_of(dim_text(dim), bound)


def check_point(compiled: Compiled, point: Mapping[str, object]) -> tuple[str, ...]:
    """Check that ``point`` gives every input (and every tangent of ``jvp``/``hvp``,
    named as its argument: ``x_dot``), each array of its declared shape, and nothing
    else but the sizes of the declarations; return the tangent names."""
    inputs = compiled.forward.inputs
    functions = {f.name: f for f in compiled.functions}
    tangents: tuple[str, ...] = ()
    for name in ("jvp", "hvp"):
        if name in functions:
            tangents = functions[name].params[len(inputs) :]
    sizes = sizes_of(compiled)
    allowed = (*inputs, *tangents)
    unknown = [name for name in point if name not in allowed and name not in sizes]
    if unknown:
        listed = ", ".join(inputs) or "none"
        if tangents:
            listed += f"; tangents: {', '.join(tangents)}"
        if sizes:
            listed += f"; sizes: {', '.join(sizes)}"
        raise OptionError(
            f"'{unknown[0]}' is not an input (inputs: {listed})",
            "--at",
        )
    missing = [name for name in allowed if name not in point]
    if missing:
        what = "input" if missing[0] in inputs else "tangent"
        hint = " (or --random SEED)" if sizes else ""
        raise OptionError(f"no value for {what} '{missing[0]}'{hint}", "--at")
    bound = {name: _size(name, point[name]) for name in sizes if name in point}
    params = dict(zip(tangents, inputs, strict=False))  # x_dot is shaped like x
    for late in (False, True):  # bare names bind first, then sizes like 4*H check
        for name in allowed:
            like = params.get(name, name)
            _check_shape(compiled, like, name, point[name], bound, late)
    return tangents


def _size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer):
        raise OptionError(f"a size is a whole number, not {value!r}", f"--at {name}")
    if value != int(value) or value < 1:
        raise OptionError(
            f"a size is a whole number above 0, not {value!r}", f"--at {name}"
        )
    return int(value)


def _check_shape(
    compiled: Compiled,
    like: str,
    name: str,
    value: object,
    bound: dict[str, int],
    late: bool,
) -> None:
    """``value`` has the shape ``like`` is declared with; a named size takes the
    first length it meets (or the one ``--at`` gives); a size that is an expression
    (``4*H``) is checked ``late``, once the names are bound."""
    shape = compiled.forward.types.get(like, SCALAR).shape
    got = np.shape(value)  # type: ignore[arg-type]
    if len(got) != len(shape):
        want = "a number" if not shape else f"an array {show(shape)}"
        has = "a number" if not got else f"an array {show(got)}"
        raise OptionError(f"'{name}' is {want}, not {has}", "--at")
    for axis, (dim, length) in enumerate(zip(shape, got, strict=True)):
        if isinstance(dim, str):
            expected: int | None = bound.setdefault(dim, length)
        else:
            expected = _length(dim, bound) if late else length
        if expected is not None and expected != length:
            raise OptionError(
                f"'{name}' has length {length} on axis {axis}, where {dim_text(dim)} "
                f"is {expected}",
                "--at",
            )


def random_point(
    compiled: Compiled, given: Mapping[str, object], seed: int
) -> dict[str, object]:
    """``given``, and a random value for every input and tangent it does not give,
    drawn in argument order from NumPy's generator seeded with ``seed``: a float is
    standard normal, an integer a whole number from 0 to the smallest size less 1
    (an index along any axis).  An array's lengths are the sizes ``given`` names."""
    functions = {f.name: f for f in compiled.functions}
    inputs = compiled.forward.inputs
    tangents: tuple[str, ...] = ()
    for name in ("jvp", "hvp"):
        if name in functions:
            tangents = functions[name].params[len(inputs) :]
    params = dict(zip(tangents, inputs, strict=False))
    sizes = {n: _size(n, given[n]) for n in sizes_of(compiled) if n in given}
    rng = np.random.default_rng(seed)
    point = dict(given)
    for name in (*inputs, *tangents):
        if name in point:
            continue
        kind = compiled.forward.types.get(params.get(name, name), SCALAR)
        missing = [n for d in kind.shape for n in dim_names(d) if n not in sizes]
        if missing:
            raise OptionError(
                f"no length for {missing[0]}, the size of '{name}': give it "
                f"(--at {missing[0]}=4)",
                "--random",
            )
        shape = tuple(_length(d, sizes) for d in kind.shape)
        if any(length is None or length < 1 for length in shape):
            raise OptionError(
                f"the sizes given make a length of '{name}' less than 1 "
                f"(shape {show(kind.shape)})",
                "--random",
            )
        if kind.dtype == "float":
            value = rng.standard_normal(shape)
        else:
            top = min(
                [*sizes.values(), *(d for d in kind.shape if isinstance(d, int))] or [2]
            )
            value = rng.integers(0, top, shape)
        point[name] = value if shape else value.item()
    return point


def point_value(backend: Backend, value: object) -> object:
    """A value as the backend's modules take it: a 0-d float64 tensor for torch, a
    NumPy float64 for the other elementwise backends (NumPy's float rules, as with
    arrays: inf, nan), a float for math; an array as a NumPy array (float64, or int64
    for whole numbers)."""
    if np.ndim(value):  # type: ignore[arg-type]
        array = np.asarray(value)
        kind = np.int64 if array.dtype.kind in "iub" else np.float64
        return array.astype(kind)
    value = float(value)  # type: ignore[arg-type]
    if backend.numbers == "tensor":
        import torch

        return torch.tensor(value, dtype=torch.float64)
    return np.float64(value) if backend.numbers == "numpy" else value


def complete_point(
    compiled: Compiled, point: Mapping[str, object], seed: int | None
) -> dict[str, object]:
    """``point`` with random values for what it does not give (``seed`` not None:
    see :func:`random_point`), checked."""
    full = dict(point) if seed is None else random_point(compiled, point, seed)
    check_point(compiled, full)
    return full


def evaluate_at(
    source: str,
    options: Options,
    point: Mapping[str, object],
    where: str,
    seed: int | None = None,
) -> list[tuple[str, Value]]:
    """The output's value and its gradients at ``point``, named for the table, then
    what the other modes compute there (``--mode``): the tangent (jvp), H·v (hvp),
    the Hessian and the Jacobian.  Tangents and vectors are given like the inputs,
    named as the tangent arguments (``x_dot=1``).  One compile, checked against the
    point, then rendered, formatted and run.  An array program takes arrays (or,
    with ``seed``, random ones of the sizes ``point`` gives)."""
    compiled = compile_source(source, options, where)
    inputs = compiled.forward.inputs
    functions = {f.name: f for f in compiled.functions}
    point = complete_point(compiled, point, seed)
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


def real_value(name: str, number: object) -> Value:
    """A value as a float (an array as a NumPy array); a complex one (NumPy's 0-d
    arrays included) is an error unless its imaginary part is 0."""
    if np.ndim(number):  # type: ignore[arg-type]
        array = np.asarray(number)
        if array.dtype.kind == "c":
            if np.any(array.imag != 0):
                raise OptionError(
                    f"evaluation failed: {name} is complex: outside the real domain",
                    "--at",
                )
            array = array.real
        return array
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


def summary(value: np.ndarray) -> str:
    """An array in one short line: its shape, mean, least and greatest element
    (``(4, 3) mean 0.12 min -1.3 max 2``)."""
    shape = show(value.shape)
    if value.size == 0:
        return f"{shape} empty"
    low, high = float(value.min()), float(value.max())
    mean = float(value.mean())
    if abs(mean) <= 1e-12 * max(abs(low), abs(high)):
        mean = 0.0  # a sum that cancels: rounding's residue is not information
    mean_text, low_text, high_text = (
        f"{n:.3g}" if n != 0 else "0" for n in (mean, low, high)
    )
    return f"{shape} mean {mean_text} min {low_text} max {high_text}"


def table(rows: list[tuple[str, Value]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(
        f"{name:<{width}}  {summary(v) if isinstance(v, np.ndarray) else repr(v)}"
        for name, v in rows
    )
