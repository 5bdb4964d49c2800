"""``--chunks``: the module's ``in_chunks(function, *args)`` returns what one call
returns, for every function a module can have, every batch size around ``CHUNK`` and
batch shapes that broadcast; bad uses are one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import REPO, load
from oracles import central_difference, fd_close

import cli
from codegen.generate import Options

MODES = ("grad", "jvp", "hvp", "hessian", "jacobian")
SOURCE = "t = sigmoid(x) * tanh(y); f = t + x * y * exp(-y) + sin(x)"


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load(SOURCE, Options(mode=MODES, chunks=True))


def _calls(module: ModuleType, x: object, y: object) -> dict[str, tuple]:
    """Each function of the module with its arguments (tangents for jvp and hvp)."""
    x_dot, y_dot = np.cos(x), 0.5
    return {
        "forward": (module.forward, x, y),
        "forward_backward": (module.forward_backward, x, y),
        "forward_backward with df": (module.forward_backward, x, y, 2.0),
        "jvp": (module.jvp, x, y, x_dot, y_dot),
        "hvp": (module.hvp, x, y, x_dot, y_dot),
        "hessian": (module.hessian, x, y),
        "jacobian": (module.jacobian, x, y),
    }


def _assert_same(got: object, want: object, exact: bool = True) -> None:
    """Same structure and types (tuples, Grads), and equal arrays of equal shapes."""
    assert type(got) is type(want)
    if isinstance(want, tuple):
        assert len(got) == len(want)  # type: ignore[arg-type]
        for a, b in zip(got, want, strict=True):  # type: ignore[call-overload]
            _assert_same(a, b, exact)
        return
    assert np.shape(got) == np.shape(want)
    if exact:  # the same elementwise operations on the same numbers
        np.testing.assert_array_equal(got, want)
    else:  # broadcast operands may take NumPy's strided loops: round-off may differ
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def _sizes(chunk: int) -> list[int]:
    return [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 7]


def test_the_default_chunk_is_cache_sized(module: ModuleType) -> None:
    assert 1024 <= module.CHUNK <= 65536
    assert module.in_chunks.__kwdefaults__ == {"size": module.CHUNK, "workers": 1}


@pytest.mark.parametrize("points", _sizes(8192))
def test_every_function_equals_one_call(module: ModuleType, points: int) -> None:
    rng = np.random.default_rng(points)
    x, y = rng.uniform(-2, 2, size=(2, points))
    for name, (function, *args) in _calls(module, x, y).items():
        want = function(*args)
        got = module.in_chunks(function, *args, size=module.CHUNK if points else 4)
        _assert_same(got, want)
        got = module.in_chunks(function, *args, size=97)  # many slices
        _assert_same(got, want)
        del name


def test_default_size_slices_a_large_batch(module: ModuleType) -> None:
    points = 3 * module.CHUNK + 7
    x, y = np.random.default_rng(1).uniform(-2, 2, size=(2, points))
    seen: list[int] = []

    def recording(*args: object) -> object:
        seen.append(len(args[0]))  # type: ignore[arg-type]
        return module.forward_backward(*args)

    got = module.in_chunks(recording, x, y)
    assert seen == [module.CHUNK] * 3 + [7]
    _assert_same(got, module.forward_backward(x, y))


@pytest.mark.parametrize("workers", [2, 3])
def test_threads_give_the_same_result_in_order(
    module: ModuleType, workers: int
) -> None:
    points = 5 * 97 + 3
    x, y = np.random.default_rng(5).uniform(-2, 2, size=(2, points))
    seen: list[float] = []

    def recording(*args: object) -> object:
        seen.append(float(args[0][0]))  # type: ignore[index]
        return module.forward_backward(*args)

    for name, (function, *args) in _calls(module, x, y).items():
        want = function(*args)
        _assert_same(module.in_chunks(function, *args, size=97, workers=workers), want)
        del name
    got = module.in_chunks(recording, x, y, size=97, workers=workers)
    _assert_same(got, module.forward_backward(x, y))
    assert sorted(seen) == sorted(float(x[k]) for k in range(0, points, 97))


@pytest.mark.parametrize("shape", [(3, 50), (2, 3, 17), (0, 5)])
def test_multidimensional_batches(module: ModuleType, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    x, y = rng.uniform(-2, 2, size=(2, *shape))
    for function, *args in _calls(module, x, y).values():
        got = module.in_chunks(function, *args, size=7)
        _assert_same(got, function(*args))
    value, grads = module.in_chunks(module.forward_backward, x, y, size=7)
    assert value.shape == shape
    assert grads.x.shape == grads.y.shape == shape
    _, _, H = module.in_chunks(module.hessian, x, y, size=7)
    assert H.shape == (2, 2, *shape)


def test_a_batch_broadcasts_with_a_number_and_a_row(module: ModuleType) -> None:
    x = np.random.default_rng(2).uniform(-2, 2, size=(40, 1))
    y_row = np.linspace(-1, 1, 25)
    for y in (0.7, np.float64(0.7), y_row):
        for function, *args in _calls(module, x, y).values():
            got = module.in_chunks(function, *args, size=64)
            _assert_same(got, function(*args), exact=False)
    value, grads = module.in_chunks(module.forward_backward, x, 0.7, size=7)
    assert value.shape == grads.x.shape == grads.y.shape == (40, 1)  # like the batch
    value, grads = module.in_chunks(module.forward_backward, x, y_row, size=64)
    assert value.shape == grads.x.shape == grads.y.shape == (40, 25)


def test_the_gradients_are_right(module: ModuleType) -> None:
    """Against the oracle (central differences of forward), not only one call."""
    x, y = np.random.default_rng(3).uniform(-2, 2, size=(2, 50))
    values, grads = module.in_chunks(module.forward_backward, x, y, size=8)
    for j in range(0, 50, 7):
        point = [float(x[j]), float(y[j])]
        for k, name in enumerate(("x", "y")):
            fd = central_difference(module.forward, point, k)
            assert fd_close(fd, getattr(grads, name)[j], values[j]), (name, j)


def test_numbers_only_is_one_call(module: ModuleType) -> None:
    value, grads = module.in_chunks(module.forward_backward, 0.3, -1.2, size=1)
    _assert_same((value, grads), module.forward_backward(0.3, -1.2))


def test_a_matrix_without_the_batch_axis_is_repeated() -> None:
    """The Hessian of x + y is constant; both one call and the slices spread it over
    the points."""
    linear = load("x + y", Options(mode=("grad", "hessian"), chunks=True))
    x = np.linspace(0, 1, 10)
    value, grads, H = linear.in_chunks(linear.hessian, x, 2.0, size=3)
    assert linear.hessian(x, 2.0)[2].shape == (2, 2, 10)
    assert H.shape == (2, 2, 10)
    np.testing.assert_array_equal(H, 0.0)
    np.testing.assert_array_equal(value, x + 2.0)
    assert grads.x.shape == grads.y.shape == (10,)


def test_several_outputs() -> None:
    two = load("u = x * y; v = sin(x); u, v", Options(chunks=True))
    x, y = np.random.default_rng(4).uniform(-2, 2, size=(2, 30))
    du, dv = np.ones(30), np.full(30, 0.5)
    for function, *args in ((two.forward, x, y), (two.forward_backward, x, y, du, dv)):
        _assert_same(two.in_chunks(function, *args, size=4), function(*args))


# --- the module text --------------------------------------------------------------------


def test_only_modules_with_chunks_have_the_helper() -> None:
    plain = load("x + y*z")
    assert not hasattr(plain, "in_chunks") and not hasattr(plain, "CHUNK")
    text = cli_text(["x + y*z", "--chunks"])
    assert "in_chunks(function, *args) evaluates" in text.split('"""')[1]  # header
    assert "Regenerate with: backpropgen 'x + y*z' --chunks" in text
    assert "\ndef in_chunks(function, *args, size=CHUNK, workers=1):" in text


def cli_text(argv: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "cli.py", *argv],
        capture_output=True,
        cwd=REPO,
        check=True,
        timeout=120,
        text=True,
    )
    return result.stdout


def test_byte_identical_across_hash_seeds() -> None:
    outputs = []
    for seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "cli.py", SOURCE, "--chunks", "--mode", ",".join(MODES)],
            capture_output=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            timeout=120,
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]


# --- bad uses: one line, exit 2, nothing written -----------------------------------------

BAD = {
    "math backend": (["x*y", "--chunks", "--backend", "math"], "--backend math"),
    "torch backend": (["x*y", "--chunks", "--backend", "torch"], "--backend torch"),
    "array program": (["X: array[N]\nf = sum(X * X)", "--chunks"], "scalar programs"),
    "layer target": (["x*y", "--chunks", "--target", "layer"], "--target layer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_uses_exit_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, needle = BAD[case]
    target = tmp_path / "out.py"
    status = cli.main([*argv, "-o", str(target)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("backpropgen: error: ") and "--chunks" in line, line
    assert needle in line and "in_chunks" in line, line
    assert not target.exists()


# --- the manifest -------------------------------------------------------------------------

PYPROJECT = """\
[tool.backpropgen]
directory = "gen"

[tool.backpropgen.modules.batch]
source = "x + y*z"
chunks = true
"""


def test_manifest_key_regen_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--regen"]) == 0
    path = tmp_path / "gen" / "batch.py"
    text = path.read_text(encoding="utf-8")
    assert "def in_chunks(" in text and "CHUNK = " in text
    assert cli.main(["--check"]) == 0
    path.write_text(text.replace("size=CHUNK", "size=1"), encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") != text  # --check wrote nothing


def test_manifest_refuses_chunks_with_math(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PYPROJECT + 'backend = "math"\n'
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--regen"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "[tool.backpropgen.modules.batch] chunks" in line and "numpy" in line, line
    assert not (tmp_path / "gen").exists()


def test_manifest_chunks_must_be_a_boolean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PYPROJECT.replace("chunks = true", 'chunks = "yes"')
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--regen"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "'chunks' must be true or false" in line, line


@pytest.mark.parametrize(
    "kwargs", [{"size": 0}, {"size": -5}, {"size": 2.5}, {"workers": "2"}]
)
def test_a_bad_size_or_workers_is_one_clear_error(
    module: ModuleType, kwargs: dict
) -> None:
    x = np.linspace(-1.0, 1.0, 50)
    with pytest.raises(
        ValueError, match=r"^in_chunks: size must be a whole number above 0"
    ):
        module.in_chunks(module.forward, x, 0.5, **kwargs)
