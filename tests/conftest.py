"""Shared helpers for the backpropgen tests: paths, options and loaders.

The oracles (central differences, the dot-product test, SymPy) and their tolerances
are in ``tests/oracles.py``, the finite-difference part from ``codegen/oracles.py``
(which ``--verify`` uses too).  Test modules import the helpers with
``from conftest import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
from oracles import check_module_against_oracles, oracle

import codegen
from codegen.evaluate import load_module
from codegen.generate import Options, generate

REPO = Path(__file__).resolve().parent.parent

# The checkout's codegen/ is the package the distribution installs as backpropgen: the
# tests use `import backpropgen` for this checkout, never another one installed.
sys.modules["backpropgen"] = codegen
GENERATED = REPO / "generated"
EXAMPLES = REPO / "examples"
BACKENDS: tuple[str, ...] = ("numpy", "math")


def options(
    backend: str = "numpy",
    wrt: Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
    format: str = "auto",
) -> Options:
    return Options(
        backend=backend,
        wrt=None if wrt is None else tuple(wrt),
        inputs=None if inputs is None else tuple(inputs),
        format=format,
    )


def load(source: str, opts: Options | None = None) -> ModuleType:
    """Generate the module for ``source`` and import it from its text."""
    return load_module(generate(source, opts or Options()))


def load_generated(name: str) -> ModuleType:
    """A checked-in module of ``generated/``, loaded from its file."""
    return load_module((GENERATED / f"{name}.py").read_text(encoding="utf-8"), name)


def check_against_oracles(
    source: str, opts: Options, points: Sequence[Mapping[str, float]]
) -> None:
    """The module generated for ``source`` agrees with SymPy and with central
    differences at every point (tests/oracles.py)."""
    check_module_against_oracles(load(source, opts), oracle(source, opts), points)


def split_statements(text: str, function: str) -> tuple[list[str], list[str]]:
    """The forward and backward lines of ``function`` in a generated module, without
    comments or blank lines (the lines between ``# forward``/``# backward`` markers)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"def {function}("))
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        body.append(line.strip())
    forward: list[str] = []
    backward: list[str] = []
    current = forward
    pending = ""  # a statement black split over lines, joined back into one
    for line in body:
        if line == "# backward":
            current = backward
        if not line or line.startswith("#") or line.startswith('"""'):
            continue
        if line.startswith("return ") and not pending:
            break
        pending += line if not pending or pending.endswith("(") else " " + line
        if line.startswith(")"):
            pending = pending[:-2] + ")" if pending.endswith(" )") else pending
        depth = sum(pending.count(c) for c in "([{") - sum(
            pending.count(c) for c in ")]}"
        )
        if depth == 0:
            current.append(pending)
            pending = ""
    return forward, backward


def as_array(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=float)


def one_line_error(source: str, tmp_path: Path, capsys) -> str:  # type: ignore[no-untyped-def]
    """Generate ``source`` from a file through the command line and return its error:
    exit status 2, nothing on stdout, and one line on stderr (no traceback)."""
    import cli

    program = tmp_path / "prog.bp"
    program.write_text(source + "\n", encoding="utf-8")
    status = cli.main(["-f", str(program), "-o", str(tmp_path / "out.py")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("backpropgen: error: ")
    assert not (tmp_path / "out.py").exists()  # nothing half-written
    return lines[0]
