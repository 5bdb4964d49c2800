"""Einsum specs in explicit output form (``"bqhe,bkhe->bhqk"``): parsed by hand, never
evaluated, and the specs of each operand's gradient.

A spec is letters, commas between the operands' subscripts and one ``->`` before the
output's subscripts.  Each operand names each of its axes by one letter, a letter names
one size wherever it appears, the output's letters appear among the inputs' and
none twice; a letter repeated within one operand (a trace or a diagonal, ``"ii->i"``)
is refused.
"""

from __future__ import annotations

from typing import NamedTuple


class SpecProblem(ValueError):
    """Why a spec is not one this generator takes (the message names the culprit)."""


class Spec(NamedTuple):
    inputs: tuple[str, ...]
    output: str

    def text(self) -> str:
        return ",".join(self.inputs) + "->" + self.output


def parse_spec(text: str) -> Spec:
    """The operands' subscripts and the output's, or :class:`SpecProblem`."""
    if text.count("->") != 1:
        raise SpecProblem(
            f"einsum spec {text!r} needs exactly one '->' before the output's "
            "subscripts (explicit form: 'ij,jk->ik')"
        )
    left, output = text.split("->")
    inputs = tuple(left.split(","))
    for part in (*inputs, output):
        for char in part:
            if not ("a" <= char <= "z" or "A" <= char <= "Z"):
                raise SpecProblem(
                    f"einsum spec {text!r}: {char!r} is not a letter (subscripts are "
                    "letters, operands are separated by commas)"
                )
    for index, sub in enumerate(inputs):
        if len(set(sub)) != len(sub):
            twice = next(c for c in sub if sub.count(c) > 1)
            raise SpecProblem(
                f"einsum spec {text!r}: operand {index + 1} repeats index '{twice}' "
                "(traces and diagonals are not supported)"
            )
    if len(set(output)) != len(output):
        twice = next(c for c in output if output.count(c) > 1)
        raise SpecProblem(f"einsum spec {text!r}: the output repeats index '{twice}'")
    seen = "".join(inputs)
    for char in output:
        if char not in seen:
            raise SpecProblem(
                f"einsum spec {text!r}: output index '{char}' is in no operand"
            )
    return Spec(inputs, output)


class GradientSpec(NamedTuple):
    """Operand ``k``'s gradient: ``einsum(spec, g, *others)`` has the operand's axes
    except ``missing`` (positions in the operand of letters no other subscript has,
    summed out by the forward einsum), which are broadcast back."""

    spec: str
    missing: tuple[int, ...]


def gradient_spec(spec: Spec, k: int) -> GradientSpec:
    """The spec of operand ``k``'s gradient: the upstream's subscripts and the other
    operands' in, operand ``k``'s (without letters found nowhere else) out."""
    others = [sub for j, sub in enumerate(spec.inputs) if j != k]
    elsewhere = set(spec.output).union(*others)
    sub = spec.inputs[k]
    kept = "".join(c for c in sub if c in elsewhere)
    missing = tuple(i for i, c in enumerate(sub) if c not in elsewhere)
    return GradientSpec(",".join([spec.output, *others]) + "->" + kept, missing)
