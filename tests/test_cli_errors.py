"""Bad input: exit status 2, one line on stderr naming what and where, no traceback,
no file written or overwritten.  And the happy paths of the CLI's plumbing."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

import cli
from codegen import __version__
from codegen.generate import Options, generate

PREFIX = "backpropgen: error: "


@dataclass(frozen=True)
class Bad:
    id: str
    argv: tuple[str, ...]
    place: str  # must appear in the error line
    syntax: bool = False  # syntax errors add the source line and a caret line
    what: str = ""  # a word the message must contain


CASES = [
    Bad("syntax", ("x +* 2",), "<expr>:1:4", syntax=True, what="syntax"),
    Bad("syntax-program", ("a = x\nb = (a +\nf = b",), "<expr>:2:", syntax=True),
    Bad("unknown-function", ("x + foo(y)",), "<expr>:1:5", what="foo"),
    Bad("floordiv", ("x // y",), "<expr>:1:1", what="//"),
    Bad("mod", ("x % y",), "<expr>:1:1", what="%"),
    Bad("compare", ("x < y",), "<expr>:1:1", what="comparison"),
    Bad("attribute", ("x.y + 1",), "<expr>:1:1", what="attribute"),
    Bad("call-other", ("x(1)",), "<expr>:1:1", what="'x'"),
    Bad("lambda", ("lambda x: x",), "<expr>:1:1", what="lambda"),
    Bad("empty", ("",), "<expr>", what="empty"),
    Bad("blank", ("   \n  ",), "<expr>", what="empty"),
    Bad("comment-only", ("# nothing\n",), "<expr>", what="empty"),
    Bad("keyword", ("x + class",), "<expr>:1:5", syntax=True, what="class"),
    Bad("augassign-unassigned", ("f = x\nloss += f",), "<expr>:2", what="no value"),
    Bad("augassign-pow", ("a = x\na **= 2",), "<expr>:2:1", what="'**='"),
    Bad(
        "reassign-dimension",
        ("X: array[N]\nN += 1\nf = sum(X)",),
        "<expr>:2",
        what="dimension",
    ),
    Bad("used-before", ("b = a * 2\na = x + 1\nf = b",), "<expr>:1:5", what="before"),
    Bad("arity-exp", ("exp(x, y)",), "<expr>:1:1", what="exp"),
    Bad("arity-max", ("max(x)",), "<expr>:1:1", what="max"),
    Bad("unknown-wrt", ("x*y", "--wrt", "z"), "--wrt", what="z"),
    Bad("inputs-missing", ("x*y", "--inputs", "x"), "--inputs", what="y"),
    Bad("at-missing-value", ("x*y", "--at", "x=1"), "--at", what="y"),
    Bad("at-empty-value", ("x*y", "--at", "x=", "y=2"), "--at", what="number"),
    Bad("at-not-pair", ("x*y", "--at", "x", "y=2"), "--at"),
    Bad("at-unknown-name", ("x*y", "--at", "x=1", "y=2", "z=3"), "--at", what="z"),
    Bad("source-and-file", ("x", "-f", "prog.bp"), "backpropgen"),
    Bad("sum-of-scalar", ("sum(x)",), "<expr>:1:1", what="scalar"),
    Bad("transpose-of-scalar", ("x.T + 1",), "<expr>:1:1", what="scalar"),
    Bad("empty-wrt", ("x*y", "--wrt", ""), "--wrt", what="no names"),
    Bad("unknown-mode", ("x*y", "--mode", "grad,hessain"), "--mode", what="hessain"),
    Bad(
        "hessian-of-arrays",
        ("X: array[N]\nf = sum(X * X)", "--mode", "hessian"),
        "--mode hessian",
        what="scalar programs",
    ),
    Bad(
        "hvp-of-an-array",
        ("X: array[N]\nf = X * X", "--mode", "hvp"),
        "--mode hvp",
        what="scalar output",
    ),
    Bad("outputs-unassigned", ("u = x*y", "--outputs", "u,w"), "--outputs", what="'w'"),
    Bad("outputs-line", ("u = x*y\nu, w",), "<expr>:2", what="'w'"),
    Bad("outputs-not-last", ("u = x*y\nu, u\nv = u",), "<expr>:2:1", what="last"),
    Bad(
        "grad-not-input",
        ("f = x*y\ng = grad(f, f)\nout = g",),
        "<expr>:2:5",
        what="input",
    ),
    Bad(
        "grad-of-array",
        ("X: array[N]\nf = X * 2\ng = grad(f, X)\nout = sum(g)",),
        "<expr>:3:5",
        what="scalar",
    ),
    Bad(
        "at-missing-tangent",
        ("x*y", "--mode", "jvp", "--at", "x=1", "y=2"),
        "--at",
        what="x_dot",
    ),
    Bad("at-with-output", ("x*y", "--at", "x=1", "y=2", "-o", "o.py"), "-o"),
    # argparse's complaints are one line too
    Bad("option-without-value", ("x*y", "-o"), "-o", what="expected one argument"),
    Bad("unknown-long-option", ("x*y", "--bogus"), "--bogus", what="unrecognized"),
    Bad("two-expressions", ("x*y", "y*z"), "two expressions"),
    Bad("output-folder-name", ("x*y", "-o", "m.py/"), "-o m.py/", what="folder"),
    Bad("complex-constant", ("x * (-8)**(1/3)",), "<expr>:1:", what="real"),
    Bad("float-constant-overflow", ("x * 2.0**1024",), "<expr>:1:", what="too large"),
    Bad("divisor-underflows", ("x / 10**-400",), "<expr>:1:", what="division by zero"),
    Bad(
        "max-too-many",
        ("max(" + ", ".join(f"x{i}" for i in range(600)) + ")",),
        "<expr>:1:1",
        what="nest them",
    ),
    Bad("exp-of-constant-overflows", ("exp(1000) * x",), "<expr>:1:1", what="finite"),
    Bad("log-of-zero", ("log(0.0) * x",), "<expr>:1:1", what="finite"),
    Bad("sqrt-of-negative", ("x + sqrt(-1.0)",), "<expr>:1:5", what="finite"),
    Bad("divide-by-zero", ("2 / 0 * y",), "<expr>:1:", what="division by zero"),
    Bad(
        "divide-by-folded-zero", ("x / (2 - 2)",), "<expr>:1:", what="division by zero"
    ),
    Bad("zero-to-negative-power", ("0 ** -1 * x",), "<expr>:1:", what="zero"),
    Bad("constant-too-large", ("x * 10**400",), "<expr>:1:", what="too large"),
    Bad("power-too-large", ("x * 7**9000",), "<expr>:1:", what="too large"),
    Bad(
        "folded-too-large",
        ("a = 10**200 * 10**200\nf = a * x",),
        "<expr>:1:",
        what="too large",
    ),
    Bad("at-twice", ("x*y", "--at", "x=1", "x=3", "y=2"), "--at", what="twice"),
    # a real-valued module evaluated outside the real domain
    Bad(
        "at-complex-math",
        ("x**0.5", "--at", "x=-1", "--backend", "math"),
        "--at",
        what="complex",
    ),
    Bad(
        "at-complex",
        ("x**y", "--at", "x=-2", "y=0.5", "--backend", "math"),
        "--at",
        what="domain",
    ),
    # --inputs names obey the same rules as names in the program
    Bad("inputs-module-name", ("x*y", "--inputs", "np,x,y"), "--inputs", what="'np'"),
    Bad("inputs-grads", ("x*y", "--inputs", "x,y,Grads"), "--inputs", what="Grads"),
    Bad("inputs-private", ("x*y", "--inputs", "x,y,_z"), "--inputs", what="'_z'"),
    Bad("inputs-keyword", ("x*y", "--inputs", "x,y,None"), "--inputs", what="keyword"),
    Bad("inputs-float", ("x*y", "--inputs", "x,y,float"), "--inputs", what="float"),
    Bad("inputs-pi", ("x*y", "--inputs", "x,y,pi"), "--inputs", what="'pi'"),
    Bad("inputs-function", ("x*y", "--inputs", "x,y,exp"), "--inputs", what="exp"),
    Bad(
        "inputs-dimension",
        ("A: array[N]\nf = sum(A)", "--inputs", "N,A"),
        "--inputs",
        what="dimension",
    ),
    Bad(
        "float-as-a-name", ("float = x * 2\nf = float + 1",), "<expr>:1:1", what="float"
    ),
    # names are read as Python reads them (NFKC): a full-width x is x, and np is np
    Bad(
        "inputs-nfkc-twice",
        ("x*y", "--inputs", "x,y,\uff58"),
        "--inputs",
        what="'x' is listed twice",
    ),
    Bad(
        "inputs-nfkc-reserved",
        ("x*y", "--inputs", "\uff4e\uff50,x,y"),
        "--inputs",
        what="'np'",
    ),
    Bad("wrt-twice", ("x*y", "--wrt", "x,y,x"), "--wrt", what="'x' is listed twice"),
    Bad("wrt-empty-name", ("x*y", "--wrt", "x,,y"), "--wrt", what="empty"),
    Bad("wrt-comma-only", ("x*y", "--wrt", ","), "--wrt", what="empty"),
    Bad("regen-with-source", ("x", "--regen"), "--regen", what="an expression"),
    Bad("check-with-output", ("--check", "-o", "foo.py"), "--check", what="-o"),
    Bad(
        "check-with-backend",
        ("--check", "--backend", "math"),
        "--check",
        what="--backend",
    ),
]


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


LOCATION = re.compile(r":(\d+):(\d+): ")


def _assert_one_error(
    err: str, place: str, syntax: bool, what: str = "", source: str = ""
) -> None:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith(PREFIX), lines[0]
    assert place in lines[0], (place, lines[0])
    assert what.lower() in lines[0].lower(), (what, lines[0])
    if not syntax:
        assert len(lines) == 1, lines
        return
    # the source line, then a caret under the column the first line names
    assert len(lines) == 3, lines
    found = LOCATION.search(lines[0])
    assert found, lines[0]
    line, column = int(found.group(1)), int(found.group(2))
    text = source.splitlines()[line - 1].rstrip()
    assert lines[1].endswith(text) and lines[1].strip() == text.strip()
    prefix = len(lines[1]) - len(text)
    assert lines[2] == " " * (prefix + column - 1) + "^"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line(
    case: Bad, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, list(case.argv))
    assert status == 2
    assert out == ""
    assert "Traceback" not in out
    _assert_one_error(err, case.place, case.syntax, case.what, case.argv[0])


#: the cases whose error survives a later "-o FILE" (a second -o replaces the first)
KEEP_ERROR_WITH_OUTPUT = [c for c in CASES if c.id != "output-folder-name"]


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize(
    "case", KEEP_ERROR_WITH_OUTPUT, ids=[c.id for c in KEEP_ERROR_WITH_OUTPUT]
)
def test_output_file_untouched_on_error(
    case: Bad, existing: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.py"
    if existing:
        target.write_text("keep me\n", encoding="utf-8")
    status, out, err = _run(capsys, [*case.argv, "-o", str(target)])
    assert status == 2
    assert "Traceback" not in err
    if existing:
        assert target.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["out.py"] if existing else []
    )


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.bp"
    status, out, err = _run(capsys, ["-f", str(missing)])
    assert status == 2 and out == ""
    _assert_one_error(err, str(missing), syntax=False)
    status, out, err = _run(capsys, ["-f", str(tmp_path)])  # a directory
    assert status == 2 and out == ""
    _assert_one_error(err, str(tmp_path), syntax=False)
    binary = tmp_path / "bin.bp"
    binary.write_bytes(b"\xff\xfe x = 1")
    status, out, err = _run(capsys, ["-f", str(binary)])
    assert status == 2 and out == ""
    _assert_one_error(err, str(binary), syntax=False)


def test_errors_in_a_file_name_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = tmp_path / "prog.bp"
    program.write_text("a = x * 2\nb = a // 3\nf = b\n", encoding="utf-8")
    status, _, err = _run(capsys, ["-f", str(program)])
    assert status == 2
    _assert_one_error(err, f"{program}:2:5", syntax=False, what="//")


@pytest.mark.parametrize(
    "argv",
    [["x +* 2"], ["x // y"], ["-f", "/nonexistent/dir/prog.bp"], ["x*y", "--wrt", "q"]],
    ids=["syntax", "operator", "unreadable", "wrt"],
)
def test_real_process_has_no_traceback(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "cli.py", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(PREFIX)


# --- the happy paths of the plumbing ------------------------------------------------------


def test_output_file_holds_exactly_what_stdout_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "grad.py"
    # -o's name is part of the regenerate command, so compare with the same -o
    status, printed, _ = _run(capsys, ["sin(x) * y", "--wrt", "y"])
    assert status == 0
    status, out, _ = _run(capsys, ["sin(x) * y", "--wrt", "y", "-o", str(target)])
    assert status == 0 and out == ""
    written = target.read_text(encoding="utf-8")
    command = re.compile(r"Regenerate with: (.*)\n")
    assert command.sub("", written) == command.sub("", printed)
    match = command.search(written)
    assert match is not None and " -o " in match.group(1)
    # overwriting an existing file works and leaves no temporary files behind
    status, _, _ = _run(capsys, ["x * 2", "-o", str(target)])
    assert status == 0
    assert "x * 2" in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grad.py"]


def test_output_file_is_exactly_stdout_with_the_same_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, _ = _run(capsys, ["x + y*z", "-o", "grad.py"])
    assert status == 0
    written = (tmp_path / "grad.py").read_text(encoding="utf-8")
    assert "-o grad.py" in written
    want = generate("x + y*z", Options(regenerate="backpropgen 'x + y*z' -o grad.py"))
    assert written == want


def test_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    program = "q = y*z\nf = x + q\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(program))
    status, from_stdin, err = _run(capsys, ["-f", "-"])
    assert status == 0 and err == ""
    status, inline, _ = _run(capsys, [program])
    assert status == 0
    body = from_stdin.split('"""', 2)[2]
    assert body == inline.split('"""', 2)[2]
    assert "def forward_backward(y, z, x, df=1.0):" in from_stdin
    # the header's command can't name stdin: it points at the source it shows
    assert "Regenerate with: backpropgen SOURCE (SOURCE: the source above)\n" in (
        from_stdin
    )


def test_an_expression_may_start_with_a_minus(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = _run(capsys, ["-x*y", "--backend", "math"])
    assert status == 0 and err == ""
    assert "    t1 = -x\n" in out
    assert "Regenerate with: backpropgen '-x*y' --backend math\n" in out
    assert _run(capsys, ["--backend", "math", "-x*y"])[1] == out


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("-f*x", "t1 = -f"),  # not -f with the file name "*x"
        ("-omega*t", "t1 = -omega"),  # not -o with the output "mega*t"
        ("-h*x", "t1 = -h"),  # not --help
        ("-(x + y)", "t1 = x + y"),
        ("-x", "f = -x"),
    ],
)
def test_expressions_that_look_like_short_options(
    capsys: pytest.CaptureFixture[str], expression: str, first: str
) -> None:
    status, out, err = _run(capsys, [expression, "--backend", "math"])
    assert status == 0 and err == "", err
    forward = out.split("# forward\n", 1)[1]
    assert forward.splitlines()[0].strip() == first
    assert f"Regenerate with: backpropgen {shlex.quote(expression)} --backend" in out
    # after the options, or after '--', it is the same module
    assert _run(capsys, ["--backend", "math", expression])[1] == out
    assert _run(capsys, ["--backend", "math", "--", expression])[1] == out
    status, _, err = _run(capsys, ["x*y", "--bogus"])
    assert status == 2 and "unrecognized arguments: --bogus" in err


def test_stdin_errors_name_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("f = x % 2\n"))
    status, out, err = _run(capsys, ["-f", "-"])
    assert status == 2 and out == ""
    _assert_one_error(err, "<stdin>:1:5", syntax=False, what="%")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    out, _ = capsys.readouterr()
    assert out.strip() == f"backpropgen {__version__}"


def test_help_mentions_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out, _ = capsys.readouterr()
    assert "examples:" in out
    assert 'backpropgen "x + y*z"' in out
    assert "--at" in out and "--regen" in out and "--check" in out


def test_at_accepts_a_real_result_of_complex_intermediates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """x**0.5 is complex at x = -4 in Python's floats, but where() picks the real
    branch: the math backend's table shows 0.0 (a complex 0j gradient is real)."""
    argv = ["where(x > 0, x**0.5, 0)", "--at", "x=-4", "--backend", "math"]
    status, out, err = _run(capsys, argv)
    assert status == 0 and err == ""
    assert out.split() == ["f", "0.0", "df/dx", "0.0"]


def test_at_follows_numpy_float_rules_with_the_numpy_backend(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--at runs the NumPy module on NumPy floats, as it runs on arrays: a negative
    number to a fractional power is nan, 0 to a negative power inf, no exceptions.
    The branch where() did not choose contributes 0 to the gradient, not its nan
    (issue 11; PyTorch and JAX would give nan here)."""
    rows = {
        ("x**0.5", "x=-1"): ["f", "nan", "df/dx", "nan"],
        ("x**0.5", "x=0"): ["f", "0.0", "df/dx", "inf"],
        ("where(x > 0, x**0.5, 0)", "x=-4"): ["f", "0.0", "df/dx", "0.0"],
    }
    for (source, at), want in rows.items():
        status, out, err = _run(capsys, [source, "--at", at])
        assert status == 0 and err == ""
        assert out.split() == want, (source, out)


def test_output_dash_is_stdout_and_empty_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _run(capsys, ["x*y", "-o", "-"])
    assert status == 0
    assert out == _run(capsys, ["x*y"])[1]
    status, out, err = _run(capsys, ["x*y", "-o", ""])
    assert status == 2 and out == ""
    assert "-o" in err and "empty" in err


def test_at_collects_repeated_options_and_a_trailing_expression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    want = _run(capsys, ["x*y", "--at", "x=1", "y=2"])[1]
    assert want.split() == ["f", "2.0", "df/dx", "2.0", "df/dy", "1.0"]
    assert _run(capsys, ["x*y", "--at", "x=1", "--at", "y=2"])[1] == want
    assert _run(capsys, ["--at", "x=1", "y=2", "x*y"])[1] == want
    # names as Python reads them: a full-width x is x
    assert _run(capsys, ["\uff58*y", "--at", "\uff58=1", "y=2"])[1] == want


@pytest.mark.parametrize("argv", [["x*y"], ["x*y", "--at", "x=1", "y=2"]])
def test_a_full_standard_output_is_a_one_line_error(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "cli.py", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=REPO,
            check=False,
        )
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert line.startswith(PREFIX) and "stdout" in line
