"""The README's examples are what the tool prints: its lecture example block and its
``--at`` table are compared with a fresh run."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import REPO

import cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def _command_and_output(prompt: str) -> tuple[list[str], str]:
    """The argv after ``$ backpropgen`` and the text the README shows after it."""
    start = README.index(f"    $ backpropgen {prompt}")
    line_end = README.index("\n", start)
    argv = shlex.split(README[start:line_end].split("$ backpropgen ", 1)[1])
    return argv, README[line_end + 1 :]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert cli.main(argv) == 0
    return capsys.readouterr().out


def test_lecture_example_block_is_the_real_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv, rest = _command_and_output('"q = y*z')
    shown = re.search(r"```python\n(.*?)```", rest, re.S)
    assert shown is not None
    out = _run(capsys, argv)
    start = out.index("def forward_backward(")
    assert out[start:] == shown.group(1)


def test_at_table_is_the_real_output(capsys: pytest.CaptureFixture[str]) -> None:
    argv, rest = _command_and_output('"x + y*z" --at')
    shown = rest.split("\n\n", 1)[0]
    table = "\n".join(line.removeprefix("    ") for line in shown.splitlines())
    assert _run(capsys, argv) == table + "\n"
