"""One base error; every message names the culprit and, where it helps, the fix."""

from __future__ import annotations

import re

#: the line and column a place ends with (``prog.bp:3:5``, ``prog.bp:3``)
_PLACE = re.compile(r":(\d+)(?::(\d+))?$")


class BackpropgenError(Exception):
    """An error in the user's input or options: printed as one line, exit status 2.

    ``where`` names the place (``<expr>:1:5``, ``chain.bp:3:1``, ``--wrt``); for syntax
    errors ``source_line`` and ``column`` (1-based) let the CLI draw a caret.  ``line``
    and ``column`` are the place's line and column (1-based) when it has them, else
    None.
    """

    def __init__(
        self,
        message: str,
        where: str = "",
        source_line: str | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.source_line = source_line
        place = _PLACE.search(where)
        self.line = int(place[1]) if place else None
        if column is None and place and place[2]:
            column = int(place[2])
        self.column = column

    def one_line(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def __str__(self) -> str:
        return self.one_line()

    def render(self) -> str:
        """The full report: the one line, then source and caret lines when known."""
        lines = [self.one_line()]
        if self.source_line is not None and self.column is not None:
            text = self.source_line.rstrip("\n")
            if len(text) <= 200:
                lines.append("    " + text)
                lines.append("    " + " " * max(self.column - 1, 0) + "^")
        return "\n".join(lines)


class InputError(BackpropgenError):
    """The expression or program is not something backpropgen accepts."""


class OptionError(BackpropgenError):
    """A command-line option or manifest entry is wrong."""


class MissingRuleError(BackpropgenError):
    """A primitive has no derivative rule: never emit wrong code instead."""
