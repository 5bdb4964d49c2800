"""The README's "Use from Python" and "Use in Jupyter" examples run as shown, and its
statements about installing, importing, numbers, Dask, PyTorch, ``--help``, the
regenerate command and ``max`` are true."""

from __future__ import annotations

import doctest
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import backpropgen as bpg
import numpy as np
import pytest
from conftest import EXAMPLES, REPO

import cli

README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def test_use_from_python_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = re.search(r"```pycon\n(.*?)```", _section("Use from Python"), re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)  # picture.save("f.dot") writes here
    test = doctest.DocTestParser().get_doctest(block.group(1), {}, "README", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))
    assert (tmp_path / "f.dot").read_text().startswith("digraph")


def test_use_in_jupyter_example_runs() -> None:
    pytest.importorskip("IPython", reason="IPython is not installed: '.[notebook]'")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    blocks = re.findall(r"```\n(.*?)```", _section("Use in Jupyter"), re.S)
    assert blocks[0] == "%load_ext backpropgen\n"
    line, cell = blocks[1].split("\n", 1)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "backpropgen")
    with capture_output() as shown:
        shell.run_cell_magic("backpropgen", line.removeprefix("%%backpropgen "), cell)
    assert shown.stderr == "" and len(shown.outputs) == 3  # code, table, graph
    f, grads = shell.user_ns["net"].forward_backward(-2.0, 5.0, -4.0)
    assert (f, tuple(grads)) == (-22.0, (1.0, -4.0, 5.0))


def test_setup_notes() -> None:
    assert "(`. .venv/bin/activate`)" in README
    assert "pip install -e '.[test,torch,dask,notebook]'" in README
    assert "-e '.[test,torch,dask,notebook]'" in (REPO / ".ci/run").read_text()


def test_numbers_in_numbers_out_except_np_where() -> None:
    """What the README says a NumPy module returns for floats."""
    f, grads = bpg.compile("where(x > 0, sqrt(x), 0)").forward_backward(4.0)
    assert "`where(x > 0, sqrt(x), 0)` at 4.0 returns `array(2.)`" in README
    assert (repr(f), repr(grads.x)) == ("array(2.)", "array(0.25)")
    f, grads = bpg.compile("relu(x)").forward_backward(4.0)
    assert isinstance(f, float) and isinstance(grads.x, np.ndarray)
    for source in ["x*y", "exp(x) + log(y)", "sigmoid(x) * tanh(y)", "max(x, y)"]:
        f, grads = bpg.compile(source).forward_backward(4.0, 3.0)
        assert all(isinstance(v, float) for v in (f, *grads)), source


def test_dask_recipe_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe needs only the dask extra (no zarr)."""
    da = pytest.importorskip("dask.array", reason="dask is not installed: '.[dask]'")
    pytest.importorskip("distributed", reason="distributed is not installed")
    block = re.search(r"```python\n(import dask.*?)```", README, re.S)
    assert block is not None
    code = block.group(1).replace(
        "Client(LocalCluster())",
        "Client(LocalCluster(n_workers=1, threads_per_worker=2, processes=False))",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))  # from generated import ...
    points = np.linspace(-3.0, 3.0, 1000)
    da.to_npy_stack("points", da.from_array(points, chunks=100))
    names: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), names)  # noqa: S102 - our README
    names["client"].close()  # type: ignore[attr-defined]
    from generated import sigmoid_chain

    expected = sigmoid_chain.forward_backward(points)[1].x
    assert np.allclose(da.from_npy_stack("dx").compute(), expected)
    assert np.isclose(names["mean_dx"], expected.mean())


def test_torch_hint_is_the_readmes(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real(name, *a),
    )
    with pytest.raises(bpg.OptionError) as info:
        bpg.generate("x*y", backend="torch")
    message = str(info.value)
    assert "pip install torch" in message and "pip install '.[torch]'" in message
    assert "`pip install torch`; in a checkout, `pip install '.[torch]'`" in README


def test_help_examples_name_real_files(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    named = re.findall(r"generated/\w+\.py", capsys.readouterr().out)
    assert named and all((REPO / n).is_file() for n in named)


def test_regenerate_command_of_absolute_paths_runs_where_it_ran(
    tmp_path: Path,
) -> None:
    """-f and -o given as absolute paths: the header's command, run again from the
    same folder, writes the same module (it named only the file names before)."""
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "out" / "chain.py"
    out.parent.mkdir()
    source = tmp_path / "src" / "chain.bp"
    source.parent.mkdir()
    source.write_text((EXAMPLES / "sigmoid_chain.bp").read_text())
    run = [sys.executable, str(REPO / "cli.py")]
    argv = ["-f", str(source), "-o", str(out), "--backend", "math"]
    subprocess.run(run + argv, cwd=work, check=True)
    text = out.read_text()
    command = re.search(r"Regenerate with: (.*)\n", text)
    assert command is not None and str(tmp_path) not in command.group(1)
    words = shlex.split(command.group(1))
    assert words[0] == "backpropgen"
    out.unlink()
    subprocess.run(run + words[1:], cwd=work, check=True)
    assert out.read_text() == text


@pytest.mark.parametrize("function", ["max", "min"])
def test_max_arity_message_and_readme_agree(function: str) -> None:
    values = ", ".join(f"x{i}" for i in range(33))
    with pytest.raises(bpg.InputError) as info:
        bpg.generate(f"{function}({values})")
    assert f"{function}() takes one array or 2 to 32 values, got 33" in str(info.value)
    assert (
        "(`max`/`min` of two to 32 values, nested\n  for more; of one argument"
        in README
    )
    bpg.generate(f"{function}({', '.join(f'x{i}' for i in range(32))})")
