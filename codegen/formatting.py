"""Format generated text with black (pinned version, one mode).

The printer and template already write black's style, so for large modules the ``fast``
path only hands black the lines that are too long, one statement at a time.  Tests prove
``fast`` and ``black`` agree on the gallery and on random programs; ``auto`` picks
``black`` for small modules and ``fast`` past :data:`FAST_THRESHOLD` lines.
"""

from __future__ import annotations

import re

import black

from .errors import BackpropgenError

LINE_LENGTH = 88
FAST_THRESHOLD = 1500
MODES = ("auto", "black", "fast")


def black_mode(line_length: int = LINE_LENGTH) -> black.Mode:
    return black.Mode(
        target_versions={black.TargetVersion.PY311}, line_length=line_length
    )


def check_syntax(text: str) -> None:
    """Compile ``text`` (to bytecode, thrown away): stricter than ``ast.parse`` (it also
    refuses a repeated parameter, which only the compiler sees) and lighter on memory
    (no Python syntax tree for a module of a million lines)."""
    try:
        compile(text, "<generated>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # a bug in backpropgen, never the user's fault
        raise BackpropgenError(
            f"internal error: generated code does not compile: {exc}"
        ) from exc


def format_black(text: str) -> str:
    return black.format_str(text, mode=black_mode())


_CLOSING = {"(": ")", "[": "]", "{": "}"}


# what splitting a list at its commas looks at: a plain string literal, or one character
_SPECIAL = re.compile(r'"[^"\\\n]*"|[][(){},"\'#\\]')


def _top_level_items(inner: str) -> list[str] | None:
    """``inner`` split at its top-level commas, or None if it holds a string literal
    with a quote other than a plain ``"name"``, a comment or unbalanced brackets."""
    items: list[str] = []
    depth, start = 0, 0
    for match in _SPECIAL.finditer(inner):
        c = match.group()
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif c == ",":
            if depth == 0:
                items.append(inner[start : match.start()].strip())
                start = match.end()
        elif len(c) == 1:  # a quote that opens no plain string, a comment, a backslash
            return None
    if depth:
        return None
    items.append(inner[start:].strip())
    return items


def _magic_comma(item: str) -> bool:
    """Whether ``item`` holds a trailing comma that black would explode: any but the
    one of a one-element tuple ``(a,)``."""
    opened: list[tuple[bool, int]] = []  # per open bracket: a tuple's?, commas in it
    for i, c in enumerate(item):
        before = item[i - 1 : i]
        if c in "([{":
            tuple_paren = c == "(" and not (
                before.isalnum() or before in ("_", ")", "]")
            )
            opened.append((tuple_paren, 0))
        elif c == "," and opened:
            tuple_paren, commas = opened[-1]
            opened[-1] = (tuple_paren, commas + 1)
            if item[i + 1 : i + 2] in (")", "]", "}") and not (
                tuple_paren and commas == 0 and item[i + 1] == ")"
            ):
                return True
        elif c in ")]}" and opened:
            opened.pop()
    return False


def exploded(line: str) -> list[str] | None:
    """Black's output for a long line that is one bracketed list of short items, or
    None when the line is not of that shape (then black formats it).

    The shapes: ``def name(params)...:`` (black splits a ``def`` at its first bracket)
    and ``head(items)`` ending in the bracket, with no bracket in ``head`` (``INPUTS =
    (...)``, ``SHAPES = {...}``, ``return f, Grads(...)``: black splits at the last
    bracket).  When the items joined by ``", "`` are longer than a whole line they
    cannot fit on the line between the brackets at any indent, so black explodes them
    one per line with a trailing comma (its "magic trailing comma" form).  Each item
    must then fit on its own line, with no trailing comma inside it (which black
    would explode too), and the line must be ASCII (black measures width).  This is
    black's documented behaviour; tests/test_formatting.py checks the equality with
    black on small modules and on lines of this shape.  Linear in the line's length,
    where black is not."""
    body = line.lstrip(" ")
    indent = line[: len(line) - len(body)]
    if not line.isascii():
        return None
    if body.startswith("def "):
        open_at = body.find("(")
        close_at = body.rfind(")")
        tail = body[close_at + 1 :]
        if not (tail == ":" or (tail.startswith(" -> ") and tail.endswith(":"))):
            return None
        if any(c in tail for c in "([{"):
            return None
    else:
        close_at = len(body) - 1
        if body[-1:] not in (")", "]", "}"):
            return None
        opener = {v: k for k, v in _CLOSING.items()}[body[-1]]
        open_at = body.rfind(opener)  # the head holds no bracket: checked below
    head = body[: open_at + 1]
    if open_at <= 0 or any(c in head[:-1] for c in "()[]{}\"#'"):
        return None
    if _CLOSING[body[open_at]] != body[close_at]:
        return None
    items = _top_level_items(body[open_at + 1 : close_at])
    if items is None or len(items) < 2 or "" in items:
        return None
    if len(", ".join(items)) <= LINE_LENGTH or len(indent + head) > LINE_LENGTH:
        return None
    inner = indent + "    "
    lines = [inner + item + "," for item in items]
    if any(len(x) > LINE_LENGTH for x in lines):
        return None
    if any("," in item and _magic_comma(item) for item in items):
        return None
    return [indent + head, *lines, indent + body[close_at:]]


def format_fast(text: str) -> str:
    """Black only the lines longer than the limit, one statement at a time.

    Every such line is a simple statement or a ``def`` header (given a stand-in body).
    A long bracketed list of short items (a ``def`` of many parameters, ``INPUTS``,
    ``SHAPES``, ``Grads(...)``) is exploded as black would, without black
    (:func:`exploded`): black's time grows faster than the line.
    """
    out: list[str] = []
    in_docstring = False
    for line in text.split("\n"):
        quotes = line.count('"""')
        if in_docstring or (quotes == 1 and line.lstrip().startswith('"""')):
            in_docstring = (quotes == 1) != in_docstring
            out.append(line)  # docstring text: black leaves it as it is
            continue
        if len(line) <= LINE_LENGTH or line.lstrip().startswith("#"):
            out.append(line)
            continue
        known = exploded(line)
        if known is not None:
            out.extend(known)
            continue
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        header = body.endswith(":")
        snippet = body + ("\n    pass\n" if header else "\n")
        mode = black_mode(LINE_LENGTH - len(indent))
        parts = black.format_str(snippet, mode=mode).split("\n")
        parts = parts[: -2 if header else -1]
        out.extend(indent + part if part else part for part in parts)
    return "\n".join(out)


def format_module(text: str, mode: str = "auto") -> str:
    check_syntax(text)
    if mode == "auto":
        mode = "black" if text.count("\n") < FAST_THRESHOLD else "fast"
    if mode == "black":
        return format_black(text)
    if mode == "fast":
        return format_fast(text)
    raise ValueError(f"unknown format mode {mode!r}")
