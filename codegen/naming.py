"""Deterministic, readable names: reserve every existing name first, then hand out fresh
temporaries (``t1``, ``t2``, ...) and gradient names (``dx``; on a clash ``d_x``,
``d_x_2``, ...).  The same primal always maps to the same gradient name."""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Iterable

#: names the generated module itself uses
MODULE_NAMES = frozenset(
    {
        "math",
        "np",
        "numpy",
        "namedtuple",
        "Grads",
        "INPUTS",
        "OUTPUT",
        "WRT",
        "forward",
        "forward_backward",
        "float",  # dtype=float in the numpy backend
    }
)


class Namer:
    def __init__(self, taken: Iterable[str]) -> None:
        self._taken: set[str] = set(taken) | MODULE_NAMES
        self._grads: dict[str, str] = {}
        self._next_temp = 1

    def _free(self, name: str) -> bool:
        return (
            name not in self._taken
            and not keyword.iskeyword(name)
            and not hasattr(builtins, name)
        )

    def take(self, name: str) -> str:
        self._taken.add(name)
        return name

    def fresh(self, stem: str) -> str:
        """``stem`` if free, else ``stem_2``, ``stem_3``, ..."""
        if self._free(stem):
            return self.take(stem)
        k = 2
        while not self._free(f"{stem}_{k}"):
            k += 1
        return self.take(f"{stem}_{k}")

    def temp(self) -> str:
        """The next free ``t<k>``, numbered in trace order."""
        while not self._free(f"t{self._next_temp}"):
            self._next_temp += 1
        name = f"t{self._next_temp}"
        self._next_temp += 1
        return self.take(name)

    def grad(self, primal: str) -> str:
        """``d<primal>``, or ``d_<primal>`` (then ``d_<primal>_2``...) on a clash."""
        if primal not in self._grads:
            first = f"d{primal}"
            self._grads[primal] = (
                self.take(first) if self._free(first) else self.fresh(f"d_{primal}")
            )
        return self._grads[primal]
