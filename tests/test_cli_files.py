"""Files in and out: encodings, modes, directories, array programs with --at, and
manifest errors that name the manifest entry (not a command-line option)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

import cli
from codegen.evaluate import load_module
from codegen.generate import Options, generate
from codegen.sources import _is_stream

PREFIX = "backpropgen: error: "


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX) and "Traceback" not in err
    return lines[0]


def test_int_arrays_get_float_gradients() -> None:
    for source, upstream in (
        ("x: array[N]\nf = mean(x)\n", {}),
        ("x: array[N]\nf = sum(x)\n", {"df": 0.5}),
        ("A: array[N, D]\ni: int[K]\nf = sum(A[i] ** 2)\n", {}),
        ("A: array[N, D]\nf = sum(A[1:, 0])\n", {}),
    ):
        module = load_module(generate(source, Options()))
        args = (
            {"x": np.arange(4)} if "x:" in source else {"A": np.arange(6).reshape(3, 2)}
        )
        if "i:" in source:
            args["i"] = np.array([0, 2, 2])
        value, grads = module.forward_backward(**args, **upstream)
        grad = grads[0]
        assert grad.dtype == np.float64
        expected = {
            "mean": np.full(4, 0.25),
            "sum(x)": np.full(4, 0.5),
            "A[i]": np.array([[0.0, 2.0], [0.0, 0.0], [16.0, 20.0]]),
            "A[1:": np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]]),
        }
        key = next(k for k in expected if k in source)
        np.testing.assert_array_equal(grad, expected[key])


def test_returned_gradients_are_writable_and_never_shared() -> None:
    module = load_module(generate("a: array[N]\nb: array[N]\nf = a + b\n", Options()))
    upstream = np.ones(3)
    _, grads = module.forward_backward(np.zeros(3), np.zeros(3), upstream)
    grad_a = grads.a
    grad_a += 1.0  # in place
    np.testing.assert_array_equal(grads.b, np.ones(3))
    np.testing.assert_array_equal(upstream, np.ones(3))
    module = load_module(generate("W: array[D, M]\nf = sum(W)\n", Options()))
    _, grads = module.forward_backward(np.ones((2, 3)))
    grads.W[0, 0] = 5.0  # not a read-only broadcast view


def test_scalar_gradients_have_one_type() -> None:
    module = load_module(generate("x + y*z", Options()))
    _, grads = module.forward_backward(-2.0, 5.0, -4.0)
    assert {type(g) for g in grads} == {np.float64}
    assert tuple(grads) == (1.0, -4.0, 5.0)


def test_upstream_gradient_on_numbers_batches_and_upstream_arrays() -> None:
    # numbers: np.float64 without an array; a batch: every gradient is an array of the
    # batch's shape, scalar inputs included; an upstream array: a fresh array
    module = load_module(generate("x + y*z", Options()))
    _, grads = module.forward_backward(-2.0, 5.0, -4.0, 2.0)
    assert all(type(g) is np.float64 for g in grads)
    assert tuple(grads) == (2.0, -8.0, 10.0)
    _, grads = module.forward_backward(np.array([1.0, 2.0, 3.0]), 5.0, -4.0)
    assert [np.shape(g) for g in grads] == [(3,), (3,), (3,)]
    np.testing.assert_array_equal(grads.y, [-4.0, -4.0, -4.0])
    upstream = np.array([1.0, 2.0])
    _, grads = module.forward_backward(-2.0, 5.0, -4.0, upstream)
    np.testing.assert_array_equal(grads.x, upstream)
    np.testing.assert_array_equal(grads.z, [5.0, 10.0])
    assert not np.shares_memory(grads.x, upstream)


def test_output_file_mode_follows_umask_and_existing_mode(tmp_path: Path) -> None:
    new = tmp_path / "new.py"
    old_umask = os.umask(0o022)
    try:
        assert cli.main(["x*y", "-o", str(new)]) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    kept = tmp_path / "kept.py"
    kept.write_text("old\n", encoding="utf-8")
    kept.chmod(0o640)
    assert cli.main(["x*y", "-o", str(kept)]) == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert "def forward_backward" in kept.read_text(encoding="utf-8")


def test_output_into_a_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["x*y", "-o", str(tmp_path)]) == 2
    assert "directory" in _one_error_line(capsys.readouterr().err)


def test_output_into_a_missing_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "o.py"
    assert cli.main(["x*y", "-o", str(target)]) == 2
    assert "directory" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "no").exists()


def test_output_through_a_symlink_replaces_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real.py"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.py"
    link.symlink_to("real.py")
    assert cli.main(["x*y", "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == "real.py"
    assert real.read_text(encoding="utf-8") == generate("x*y", _options_for(link))


def _options_for(target: Path) -> Options:
    # -o's path as the command ran (an absolute one relative to the working folder)
    return Options(regenerate=f"backpropgen 'x*y' -o {os.path.relpath(target)}")


def test_output_to_a_fifo_writes_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        assert cli.main(["x*y", "-o", str(fifo)]) == 0
        out, _ = reader.communicate(timeout=30)
    finally:
        reader.kill()
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the FIFO was replaced by a file"
    assert out.decode() == generate("x*y", _options_for(fifo))


def test_output_to_dev_stdout_keeps_what_the_redirection_holds(tmp_path: Path) -> None:
    """``-o /dev/stdout`` appends to whatever stdout is (a pipe, or a file a shell
    redirection opened); it never replaces that file."""
    out = tmp_path / "out.txt"
    out.write_text("HEADER\n", encoding="utf-8")
    with out.open("a", encoding="utf-8") as handle:
        result = subprocess.run(
            [sys.executable, "cli.py", "x*y", "-o", "/dev/stdout"],
            stdout=handle,
            cwd=REPO,
            check=False,
        )
    assert result.returncode == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("HEADER\n")
    assert text.removeprefix("HEADER\n").startswith('"""Value and gradients of f')
    piped = subprocess.run(
        [sys.executable, "cli.py", "x*y", "-o", "/dev/stdout"],
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    assert piped.returncode == 0 and piped.stderr == b""
    assert piped.stdout.decode() == text.removeprefix("HEADER\n")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    program = tmp_path / "bom.bp"
    program.write_bytes(b"\xef\xbb\xbfa = x * y\nf = a + 1\n")
    assert cli.main(["-f", str(program), "-o", str(tmp_path / "out.py")]) == 0


def test_stdin_that_is_not_utf8_is_an_error() -> None:
    result = subprocess.run(
        [sys.executable, "cli.py", "-f", "-"],
        input=b"\xff\xfe x",
        capture_output=True,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 2
    line = _one_error_line(result.stderr.decode())
    assert "<stdin>" in line and "UTF-8" in line


def test_at_refuses_array_programs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "vec.bp"
    program.write_text("x: array[N]\ny = x + 1\n", encoding="utf-8")
    assert cli.main(["-f", str(program), "--at", "x=1"]) == 2
    assert "array" in _one_error_line(capsys.readouterr().err)


MANIFEST = """\
[tool.backpropgen]
directory = "gen"

[tool.backpropgen.modules.lin]
{entry}
"""


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ('source = "x*y"\nwrt = ["q"]', ("[tool.backpropgen.modules.lin] wrt", "'q'")),
        ('source = "x*y"\nbackend = "jax"', ("modules.lin] backend", "jax")),
        ("source = 42", ("modules.lin]", "'source' must be a string")),
    ],
)
def test_manifest_errors_name_the_entry(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    entry: str,
    words: tuple[str, ...],
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        MANIFEST.format(entry=entry), encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--regen"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert all(word in line for word in words), line
    assert "--" not in line
    assert not (tmp_path / "gen").exists()


def test_manifest_module_names_must_be_importable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MANIFEST.replace("modules.lin", "modules.class").format(entry='source = "x"')
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--check"]) == 2
    assert "importable" in _one_error_line(capsys.readouterr().err)


def test_only_named_streams_are_appended_to(tmp_path: Path) -> None:
    """/dev/stdout and /dev/fd/N are streams; any other path, under /dev or not, is a
    file that -o replaces whole (written twice, it holds one module)."""
    assert _is_stream(Path("/dev/stdout")) and _is_stream(Path("/dev/fd/1"))
    assert _is_stream(Path("/proc/self/fd/1"))
    assert not _is_stream(Path("/dev/shm/no-such-module.py"))
    target = tmp_path / "twice.py"
    assert cli.main(["x*y", "-o", str(target)]) == 0
    once = target.read_text(encoding="utf-8")
    assert cli.main(["x*y", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == once


HOSTILE_SOURCES = [
    'f = x*y # """;import os;os.environ["BPG_PWNED"] = "1";"""',
    "f = x*y # \\N{bogus} \\x \\u12 \\d",
    "f = x*y # \x1b[31mred \u202e bidi \x07",
]


@pytest.mark.parametrize("source", HOSTILE_SOURCES)
def test_source_text_never_becomes_code(source: str, tmp_path: Path) -> None:
    """Comments are user text: in the header they stay text (quotes, backslashes and
    control characters escaped), in the source block and the regenerate line alike."""
    out = tmp_path / "hostile.py"
    assert cli.main([source, "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.isprintable() or all(c.isprintable() or c == "\n" for c in text)
    code = compile(text, str(out), "exec")  # no SyntaxError, no invalid escape
    namespace: dict[str, object] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(code, namespace)  # noqa: S102 - our output, checked to be inert
    assert "os" not in namespace and "BPG_PWNED" not in os.environ
    assert namespace["INPUTS"] == ("x", "y")
    doc = namespace["__doc__"]
    assert isinstance(doc, str) and "f = x*y #" in doc


def test_a_hostile_file_name_stays_text(tmp_path: Path) -> None:
    name = 'p""";import os;os.environ["BPG_PWNED"] = "1";""".bp'
    program = tmp_path / name
    program.write_text("f = x * y\n", encoding="utf-8")
    text = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "-f", name],
        capture_output=True,
        cwd=tmp_path,
        check=True,
    ).stdout.decode()
    namespace: dict[str, object] = {}
    exec(compile(text, "hostile", "exec"), namespace)  # noqa: S102 - checked inert
    assert "os" not in namespace and "BPG_PWNED" not in os.environ
