"""Constants in a program: folding them with SymPy and refusing the ones no module can
compute (a division by a constant 0, ``(-8) ** (1/3)``, ``log(0)``, ``10 ** 400``).

Folding keeps only a plain finite number (``2 * pi`` and ``exp(2)`` stay as written).
The checks return a message (without the statement it is about) or None; the builder
(:mod:`codegen.builder`) raises it with the statement and the place.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import sympy

from .ir import Atom, Const, Type
from .primitives import NUMERIC_AT_CONSTANTS
from .symbolic import const_to_sympy, meaning

MAX_FOLD_EXPONENT = 1024


def literal_text(raw: str) -> str:
    """A literal as the user wrote it, normalised the way black prints literals."""
    lower = raw.lower()
    if lower.startswith("0x"):
        return "0x" + raw[2:].upper()
    return lower


def negated_text(text: str) -> str:
    """The text of a constant's negation: ``-2`` of ``2``, ``2`` of ``-2``,
    ``-(1 / 3)`` of ``1 / 3``."""
    if text.startswith("-"):
        return text[1:]
    if " / " in text:
        return f"-({text})"
    return "-" + text


def fold(prim: str, args: tuple[Const, ...]) -> Const | None:
    """Fold a primitive over constants with SymPy, if the result is a finite number."""
    if any(a.text == "pi" for a in args) and prim != "neg":
        return None
    if prim == "pow":
        exponent = args[1].value
        if abs(exponent) > MAX_FOLD_EXPONENT or abs(args[0].value) > 2**64:
            return None
    try:
        result = meaning(prim)(*(const_to_sympy(a) for a in args))
    except (ZeroDivisionError, ValueError, TypeError):
        return None
    if not getattr(result, "is_Number", False) or not result.is_finite:
        return None
    if isinstance(result, sympy.Integer):
        return Const.of(int(result))
    if isinstance(result, sympy.Rational):
        return Const.of(Fraction(int(result.p), int(result.q)))
    return Const.of(float(result))


def operand_problem(
    prim: str, args: tuple[Atom, ...], types: list[Type], result: Type
) -> str | None:
    """What no module could compute in ``prim(*args)``, whatever the inputs: an int
    to a negative power, a negative constant to a fractional power, a division by a
    constant 0; None if nothing."""
    if (
        prim == "pow"
        and all(t.dtype == "int" for t in types)
        and (result.rank or not isinstance(args[0], Const))
    ):
        # int arrays, and NumPy ints such as sum(y) (a dimension N is a Python
        # int and would not fail, but N ** -1.0 says the same)
        power = args[1]
        if not (isinstance(power, Const) and power.value >= 0):
            return (
                "NumPy takes an int to an int power in integers and refuses negative "
                "powers; make one side a float (y ** -1.0, 2.0 ** y)"
            )
    if prim == "pow" and _complex_power(args):
        return "a negative constant to a fractional power is not a real number"
    if prim in ("div", "pow") and _zero_division(prim, args):
        return "division by zero (a constant 0 " + (
            "divisor)" if prim == "div" else "to a negative power)"
        )
    return None


def unfolded_problem(prim: str, args: tuple[Const, ...]) -> str | None:
    """Why ``prim`` of constants that did not fold cannot stay in the program (too
    large for a float, or not a finite real float); None if it can."""
    if prim == "pow":  # too large to fold: 10**4999 stays a power
        base, power = (a.value for a in args)
        if abs(base) > 1 and power > 0:
            return size_problem(float(power) * log10(base))
    elif prim in NUMERIC_AT_CONSTANTS and not _real_float(prim, args):
        text = ", ".join(a.text for a in args)
        return f"{prim}({text}) is not a finite real float"
    return None


def size_problem(log10_size: float) -> str | None:
    """Why a number of size 10**``log10_size`` is no float, or None if it is one."""
    if log10_size <= sys.float_info.max_10_exp:
        return None
    size = (
        f"about 10**{int(log10_size)}"
        if math.isfinite(log10_size)
        else "overflows to inf"
    )
    return f"a constant here is too large for a float ({size})"


def const_problem(const: Const) -> str | None:
    """Why a constant cannot be in the program (folded ones like 10**400: too large
    for a float), or None."""
    return size_problem(log10(const.value)) if const.value else None


def _complex_power(args: tuple[Atom, ...]) -> bool:
    """``(-8) ** (1/3)``: complex in Python and nan in NumPy, on every call."""
    a, b = args
    if not (isinstance(a, Const) and isinstance(b, Const)) or a.text == "pi":
        return False
    power = b.value
    whole = isinstance(power, int) or (
        isinstance(power, Fraction) and power.denominator == 1
    )
    return a.value < 0 and not whole and not float(power).is_integer()


def _zero_division(prim: str, args: tuple[Atom, ...]) -> bool:
    """``a / 0`` or ``0 ** -k`` with constants (a divisor that rounds to 0.0, like
    10**-400, included): an error on every call, so refused."""
    a, b = args
    if prim == "div":
        return isinstance(b, Const) and _rounds_to_zero(b.value)
    return (
        isinstance(a, Const) and a.value == 0 and isinstance(b, Const) and b.value < 0
    )


def _real_float(prim: str, args: tuple[Const, ...]) -> bool:
    """Whether a function of constants is a finite real float."""
    if any(a.text == "pi" for a in args):
        return True  # exp(pi) and the like: fine, and left as written
    value = sympy.N(meaning(prim)(*(const_to_sympy(a) for a in args)))
    if not (value.is_real and value.is_finite):
        return False
    size = float(abs(value))  # 0.0 when it underflows (exp(-1000)): a float still
    return size == 0.0 or log10(size) <= sys.float_info.max_10_exp


def _rounds_to_zero(value: int | float | Fraction) -> bool:
    if value == 0:
        return True
    try:
        return float(value) == 0.0
    except OverflowError:  # a huge int or ratio: far from zero
        return False


def log10(value: int | float | Fraction) -> float:
    """log10 of a nonzero number's size; exact enough for huge ints and tiny ratios."""
    value = abs(value)
    if isinstance(value, Fraction):
        return math.log10(value.numerator) - math.log10(value.denominator)
    return math.log10(value)
