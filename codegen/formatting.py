"""Format generated text with black (pinned version, one mode).

The printer and template already write black's style, so for large modules the ``fast``
path only hands black the lines that are too long, one statement at a time.  Tests prove
``fast`` and ``black`` agree on the gallery and on random programs; ``auto`` picks
``black`` for small modules and ``fast`` past :data:`FAST_THRESHOLD` lines.
"""

from __future__ import annotations

import ast

import black

from codegen.errors import BackpropgenError

LINE_LENGTH = 88
FAST_THRESHOLD = 1500
MODES = ("auto", "black", "fast")


def black_mode(line_length: int = LINE_LENGTH) -> black.Mode:
    return black.Mode(
        target_versions={black.TargetVersion.PY311}, line_length=line_length
    )


def check_syntax(text: str) -> None:
    try:
        ast.parse(text)
    except SyntaxError as exc:  # a bug in backpropgen, never the user's fault
        raise BackpropgenError(
            f"internal error: generated code does not parse: {exc}"
        ) from exc


def format_black(text: str) -> str:
    return black.format_str(text, mode=black_mode())


def format_fast(text: str) -> str:
    """Black only the lines longer than the limit, one statement at a time.

    Every such line is a simple statement or a ``def`` header (given a stand-in body).
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
