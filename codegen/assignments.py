"""What assigning a name does: each assignment writes its own version of the name, so
that the flat program stays single-assignment (see :class:`Assignments`)."""

from __future__ import annotations

from .naming import Namer
from .parse import Parsed

#: the header's statement of the version rule (a module states it only for programs
#: that reassign a name: see :func:`reassigns`)
REASSIGNMENT_RULE = (
    "Reassigned names (a = a * a, loss += ...): the last value assigned to a name "
    "keeps the name; earlier values are numbered in order, a_1, a_2, ... (a number "
    "the program already uses as a name gets a further _2, _3). An input keeps its "
    "name for the value passed in, so dx is the gradient with respect to that value, "
    "and the values later assigned to it are x_1, x_2, .... The gradient of a_1 is "
    "da_1."
)


class Assignments:
    """THE place that decides what an assignment to a name does.

    Built from every statement before any is linearized, so that a read can tell an
    input from a name assigned further down.  A name may be assigned several times
    (Python's meaning: a read gets the newest value); each assignment writes its own
    *version*, so the flat program stays single-assignment:

    * the last assignment to a name writes the name itself; earlier ones write
      ``a_1``, ``a_2``, ... in order (a version name the program already uses gets a
      further suffix from the namer: ``a_1_2``);
    * an input that is assigned (declared ``x: float``, or listed in ``--inputs``:
      an undeclared name read before its assignment stays an error, as a likely
      typo) keeps its own name for the value passed in, so its gradient ``dx`` is with respect to that value; every
      assignment to it is a version, ``x_1``, ``x_2``, ..., the last one included.

    Dimension names are never assigned (``_check_dimensions``).
    """

    def __init__(self, parsed: Parsed, inputs: tuple[str, ...] | None) -> None:
        self.where = parsed.where
        self.line: dict[str, int] = {}  # name -> line of its first assignment
        self.count: dict[str, int] = {}  # name -> how many times it is assigned
        #: names that are inputs although assigned: declared or listed
        self.inputs = frozenset(parsed.declared) | frozenset(inputs or ())
        for st in parsed.statements:
            if st.target is not None:
                self.line.setdefault(st.target, st.line)
                self.count[st.target] = self.count.get(st.target, 0) + 1
        self.reassigns = any(st.augmented for st in parsed.statements) or any(
            n > 1 or name in self.inputs for name, n in self.count.items()
        )
        self._made: dict[str, int] = {}  # name -> assignments linearized so far
        self.namer: Namer | None = None

    def written(self, name: str, line: int) -> str:
        """The name that the next assignment to ``name`` (on ``line``) writes; called
        once per statement, in order."""
        made = self._made.get(name, 0) + 1
        self._made[name] = made
        if made == self.count.get(name, 1) and name not in self.inputs:
            return name
        assert self.namer is not None
        return self.namer.fresh(f"{name}_{made}")


def reassigns(parsed: Parsed) -> bool:
    """Whether the program assigns a name twice, updates one (``+=``) or assigns an
    input: then its header states :data:`REASSIGNMENT_RULE`."""
    return Assignments(parsed, None).reassigns
