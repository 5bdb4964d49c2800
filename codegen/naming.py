"""Deterministic, readable names: reserve every existing name first, then hand out fresh
temporaries (``t1``, ``t2``, ...) and gradient names (``dx``; on a clash ``d_x``,
``d_x_2``, ...).  The same primal always maps to the same gradient name."""

from __future__ import annotations

import builtins
import functools
import keyword
import unicodedata
from collections.abc import Iterable, Sequence

from .errors import OptionError
from .primitives import FUNCTIONS as USER_FUNCTIONS

#: functions whose names may also name values (a program's ``var = mean(xc**2)`` keeps
#: working): a call ``var(x)`` is always the function, a plain ``var`` the value
VALUE_NAMES_TOO = frozenset({"var", "std", "concatenate", "stack"})

#: names a program may not use whatever the target: those of the default (flat)
#: target's module, every backend's modules and builtins (``float``: dtype=float in
#: the numpy backend), and ``pi``.  A target's other names are refused when it is
#: chosen (see :mod:`codegen.targets`; a test ties this set to that table).
RESERVED = frozenset(
    {
        "namedtuple",
        "Grads",
        "INPUTS",
        "OUTPUT",
        "OUTPUTS",
        "WRT",
        "SHAPES",
        "INTEGERS",
        "forward",
        "forward_backward",
        "math",
        "torch",
        "np",
        "numpy",
        "float",
        "pi",
        # functions the numpy module may define (convolution and pooling)
        "im2col",
        "col2im",
        "max_pool2d_grad",
        "max_pool2d_tangent",
    }
)


@functools.cache  # called for every name in a program: 100,000s of times
def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an input or a value, or None if it can.  One rule for
    program text, ``--inputs`` and the manifest's ``inputs``."""
    if not name.isidentifier():
        return f"'{name}' is not a valid name"
    if keyword.iskeyword(name):
        return f"'{name}' is a Python keyword and cannot be used here"
    if name in USER_FUNCTIONS and name not in VALUE_NAMES_TOO:
        return f"'{name}' is a function; call it as {name}(...)"
    if name in RESERVED:
        return f"'{name}' is reserved in generated code; choose another name"
    if name.startswith("_"):
        return f"'{name}': names starting with '_' are reserved for generated code"
    return None


def name_list(value: object, what: str) -> tuple[str, ...]:
    """The names of ``--wrt``/``--inputs`` (``"x,y"``) or of the manifest's ``wrt``
    and ``inputs`` (that string, or a list of names): at least one, none empty, each a
    valid Python name."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        if parts == [""]:
            parts = []
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [v.strip() for v in value]
    else:
        raise OptionError("must be a comma-separated string or a list of names", what)
    parts = [unicodedata.normalize("NFKC", part) for part in parts]  # as Python does
    if not parts:
        raise OptionError("no names given", what)
    if "" in parts:
        raise OptionError(f"an empty name in {value!r}", what)
    for name in parts:
        if not name.isidentifier():
            raise OptionError(f"'{name}' is not a valid name", what)
    twice = repeated(parts)
    if twice is not None:
        raise OptionError(f"'{twice}' is listed twice", what)
    return tuple(parts)


def repeated(names: Sequence[str]) -> str | None:
    """The first name that appears a second time, or None."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


class Namer:
    """The one source of names for a module: every pass that mints a name asks the same
    namer, so names never collide and the same value always gets the same name.

    ``taken`` are the names already in use (the program's, and what the target and
    backend reserve).  Roles, each memoized per primal name:

    * :meth:`grad`: the gradient of ``v`` is ``dv`` (the lecture's convention).  A
      second, outer differentiation (``level=2``) names the gradient of ``v``
      ``d2v``, of ``dv`` ``d2dv``, and so on (``d<level><v>``): a name says at a glance
      which sweep computed it, and no level can take another's names.
    * :meth:`tangent`: the tangent of ``v`` in forward mode is ``v_dot``.
    * :meth:`partial`: the derivative of ``v`` with respect to ``x`` is ``dv_dx``,
      whichever way it is computed: forward mode along the input ``x`` (a Hessian or
      Jacobian column: ``dt_dx``, ``ddx_dy``) or reverse mode from the output ``v``
      (a Jacobian row: ``du_dt``).
    * :meth:`temp`: unnamed intermediates ``t1``, ``t2``, ... in trace order.
    * :meth:`fresh`: any other stem, as is if free.

    On a clash with a name in use, a role falls back to ``d_v`` (``d2_v``, ``v_dot_``
    ...) and then numbers it: ``d_v_2``, ``d_v_3``.
    """

    def __init__(
        self, taken: Iterable[str], reserved: Iterable[str] = RESERVED
    ) -> None:
        self._taken: set[str] = set(taken)
        self._taken.update(reserved)
        self._roles: dict[tuple[str, str], str] = {}
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

    def _role(self, role: str, primal: str, first: str, fallback: str) -> str:
        key = (role, primal)
        name = self._roles.get(key)
        if name is None:
            name = self.take(first) if self._free(first) else self.fresh(fallback)
            self._roles[key] = name
        return name

    def grad(self, primal: str, level: int = 1) -> str:
        """``d<primal>`` (level 1) or ``d<level><primal>``; ``d_<primal>`` (then
        ``d_<primal>_2`` ...) on a clash."""
        prefix = "d" if level == 1 else f"d{level}"
        return self._role(
            f"grad{level}", primal, f"{prefix}{primal}", f"{prefix}_{primal}"
        )

    def tangent(self, primal: str) -> str:
        """``<primal>_dot``; ``<primal>_dot_`` (then numbered) on a clash."""
        return self._role("tangent", primal, f"{primal}_dot", f"{primal}_dot_")

    def partial(self, of: str, wrt: str) -> str:
        """``d<of>_d<wrt>``; ``d_<of>_d_<wrt>`` (then numbered) on a clash."""
        return self._role(f"partial {wrt}", of, f"d{of}_d{wrt}", f"d_{of}_d_{wrt}")

    def known_grad(self, primal: str, level: int = 1) -> str | None:
        """The gradient name already given to ``primal``, if any."""
        return self._roles.get((f"grad{level}", primal))
