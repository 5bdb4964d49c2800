"""examples/lecture.ipynb runs on a real Jupyter kernel without an error: each of its
cells compares what backpropgen generates with the lecture's numbers (asserts).  It is
stored without outputs."""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, REPO

nbformat = pytest.importorskip(
    "nbformat", reason="nbformat is not installed: pip install '.[notebook]'"
)
nbclient = pytest.importorskip(
    "nbclient", reason="nbclient is not installed: pip install '.[notebook]'"
)
pytest.importorskip(
    "ipykernel", reason="ipykernel is not installed: pip install '.[notebook]'"
)
pytest.importorskip("torch", reason="§9 needs PyTorch: pip install '.[torch]'")

NOTEBOOK = EXAMPLES / "lecture.ipynb"


def test_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_lecture_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel imports backpropgen: this checkout's codegen/, whatever is installed
    shim = tmp_path / "backpropgen"
    shim.mkdir()
    (shim / "__init__.py").write_text(
        "import sys\nimport codegen\nsys.modules[__name__] = codegen\n"
    )
    path = os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert errors == []
    if shutil.which("dot") is not None:  # §1's circuit, drawn inline
        shown = [o for c in notebook.cells for o in c.get("outputs", [])]
        svgs = [  # Graphviz writes - as &#45;
            html.unescape(o["data"]["image/svg+xml"])
            for o in shown
            if "image/svg+xml" in o.get("data", {})
        ]
        assert any(">-22<" in svg for svg in svgs)  # §1: f on its wire
        assert any("-0.5 = -1.5 + 1" in svg for svg in svgs)  # §2: the copy gate
        assert any("maximum(0, X @ W1 + b1)" in svg for svg in svgs)  # §7: the net
