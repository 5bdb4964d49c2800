"""Bad input names the fix: the warnings about undeclared and unread inputs (stderr,
exit 0, the module written; ``BackpropgenWarning`` from the API), the spelling that
works for library calls, methods, undeclared arrays, wrong ``transpose`` arguments and
unsupported loops (one line, exit status 2), and the naive softmax (a warning, and
``--stable`` writes ``softmax``)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import backpropgen as bpg
import numpy as np
import pytest
from conftest import REPO, load
from conftest import options as _options

import cli
from codegen.generate import Options, compile_source, generate
from codegen.hints import closest

TYPO = """\
# a two-layer net with a typo
X: array[N, D]
W1: array[D, H]
b1: array[H]
W2: array[H, C]
b2: array[C]
hidden = relu(X @ W1 + b1)
scores = hidden @ W2 + bb2
loss = sum(scores * scores)
"""


def options(**fields: object) -> Options:
    return replace(_options(), **fields)


UNDECLARED = (
    "prog.bp:8:24: 'bb2' is not declared, so it is a scalar input; did you mean 'b2'?"
)
UNREAD = "prog.bp:6:1: 'b2' is declared but never read"


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    """Exit status, stdout and the stderr lines of the command line."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def _warnings(source: str, **given: object) -> tuple[str, ...]:
    return compile_source(source, options(**given), "prog.bp").warnings


# --- undeclared and unread inputs --------------------------------------------------


def test_typo_warns_twice_and_the_module_is_still_written(tmp_path: Path) -> None:
    """Through the real command: exit 0, the two warning lines, the module written with
    the undeclared scalar among its inputs."""
    (tmp_path / "prog.bp").write_text(TYPO)
    done = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "-f", "prog.bp", "-o", "out.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"backpropgen: warning: {UNDECLARED}",
        f"backpropgen: warning: {UNREAD}",
    ]
    module = (tmp_path / "out.py").read_text()
    assert 'INPUTS = ("X", "W1", "b1", "W2", "b2", "bb2")' in module


def test_the_readme_shows_these_warnings() -> None:
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"backpropgen: warning: {UNDECLARED}" in readme
    assert f"backpropgen: warning: {UNREAD}" in readme
    assert "'W' is not declared, so it is a scalar input: declare it, e.g. " in readme


def test_the_api_raises_backpropgen_warnings(tmp_path: Path) -> None:
    (tmp_path / "prog.bp").write_text(TYPO)
    with pytest.warns(bpg.BackpropgenWarning) as caught:
        text = bpg.generate(tmp_path / "prog.bp")
    found = [str(w.message) for w in caught]
    where = str(tmp_path / "prog.bp")
    assert found == [
        UNDECLARED.replace("prog.bp", where),
        UNREAD.replace("prog.bp", where),
    ]
    assert "def forward_backward(X, W1, b1, W2, b2, bb2" in text


def test_the_nearest_assigned_name_is_suggested_too() -> None:
    source = "x: float\nhidden = x * 2\nf = hiden * x"
    assert _warnings(source) == (
        "prog.bp:3:5: 'hiden' is not declared, so it is a scalar input; "
        "did you mean 'hidden'?",
    )


def test_a_name_close_to_nothing_gets_no_suggestion() -> None:
    source = "X: array[N]\nf = sum(X) * temperature"
    assert _warnings(source) == (
        "prog.bp:2:14: 'temperature' is not declared, so it is a scalar input",
    )


def test_the_first_read_is_the_place_named() -> None:
    source = "X: array[N]\na = sum(X)\nb = a * s\nf = b + s * s"
    assert _warnings(source) == (
        "prog.bp:3:9: 's' is not declared, so it is a scalar input",
    )


@pytest.mark.parametrize(
    "source",
    [
        "f = x * y",  # nothing declared: inputs by first appearance, as before
        "X: array[N, D]\nf = sum(X) * N * D * pi",  # dimensions and pi
        "x: float\nz: float\ny = z * z\ng = grad(y, x)\nout = g + y",  # grad's x
        "X: array[N, D]\nh = X\nh = h * 2\nf = sum(h)",  # reassigned values
        "x: float\nx = x + 1\nf = x * x",  # a reassigned input is read first
    ],
)
def test_no_warning_where_every_input_is_declared_and_read(source: str) -> None:
    assert _warnings(source) == ()


def test_an_input_read_only_for_its_dimension_is_read() -> None:
    """``N`` reads ``X.shape[0]``: ``X`` is needed, so it is not 'never read'."""
    assert _warnings("X: array[N]\nf = N * 2.0\ng = f * f") == ()


def test_inputs_listed_on_the_command_line_are_not_undeclared() -> None:
    source = "X: array[N]\nf = sum(X) * s"
    assert _warnings(source, inputs=("X", "s")) == ()
    assert _warnings(source) != ()


def test_closest_is_none_when_far_and_prefers_the_nearest() -> None:
    assert closest("bb2", ["W1", "b1", "W2", "b2"]) == "b2"
    assert closest("temperature", ["X", "W"]) is None


def test_warnings_from_inputs_and_spellings_come_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = "x: float\nf = log(sigmoid(x)) * k"
    status, out, err = _main(capsys, source)
    assert status == 0 and "def forward_backward(x, k" in out
    assert err == [
        "backpropgen: warning: <expr>:2:23: 'k' is not declared, so it is a scalar "
        "input",
        "backpropgen: warning: <expr>:2:5: log(sigmoid(x)) is -inf below about -745; "
        "write log_sigmoid(x) (or generate with --stable)",
    ]


# --- errors that name the spelling that works --------------------------------------


ERRORS = [
    ("np.exp(x)", "<expr>:1:1", "write exp(x)"),
    ("math.exp(x) + 1", "<expr>:1:1", "write exp(x)"),
    ("torch.exp(x)", "<expr>:1:1", "write exp(x)"),
    ("X: array[N, D]\nf = sum(X.sum(axis=1))", "<expr>:2:9", "write sum(X, axis=1)"),
    ("X: array[N, D]\nf = X.mean()", "<expr>:2:5", "write mean(X)"),
    ("X: array[N, D]\nf = X.T.sum()", "<expr>:2:5", "write sum(X.T)"),
    (
        "X: array[N, D]\nf = sum(F.softmax(X, dim=1))",
        "<expr>:2:9",
        "write softmax(X, axis=1)",
    ),
    (
        "X: array[N, D]\nf = np.sum(X, axis=0, keepdims=True)",
        "<expr>:2:5",
        "write sum(X, axis=0, keepdims=True)",
    ),
    ("X: array[N, D]\nf = sum(np.dot(X, X.T))", "<expr>:2:9", "write X @ X.T"),
    ("x * np.pi", "<expr>:1:5", "write pi"),
]


@pytest.mark.parametrize(("source", "place", "fix"), ERRORS)
def test_library_calls_and_methods_name_the_builtin_spelling(
    capsys: pytest.CaptureFixture[str], source: str, place: str, fix: str
) -> None:
    status, out, err = _main(capsys, source)
    assert status == 2 and out == ""
    assert len(err) == 1, err
    assert err[0].startswith(f"backpropgen: error: {place}: ")
    assert err[0].endswith(f"({fix})" if "pi" in fix else f": {fix}"), err[0]


def test_an_unknown_method_keeps_the_list_of_functions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = _main(capsys, "X: array[N]\nf = sum(X.cumsum())")
    assert status == 2 and len(err) == 1
    assert "only the built-in functions can be called (abs, arange," in err[0]


UNDECLARED_ARRAYS = [
    (
        "X: array[N, D]\nh = X @ W\nf = sum(h)",
        "<expr>:2:5: in 'h = X @ W': '@' needs vectors or matrices, got shapes (N, D) "
        "and (); 'W' is not declared, so it is a scalar input: declare it, e.g. "
        "'W: array[D, H]'",
    ),
    (
        "X: array[N, H]\nf = sum(W @ X)",
        "<expr>:2:9: in 'f = sum(W @ X)': '@' needs vectors or matrices, got shapes () "
        "and (N, H); 'W' is not declared, so it is a scalar input: declare it, e.g. "
        "'W: array[K, N]'",
    ),
    (
        "X: array[N, D]\nf = sum(X) + sum(v)",
        "<expr>:2:14: sum() works on arrays, but 'v' is not declared, so it is a scalar "
        "input: declare it, e.g. 'v: array[N]'",
    ),
    (
        "X: array[N, D]\nhidden = X * 2\nf = sum(hiden)",
        "<expr>:3:5: sum() works on arrays, but 'hiden' is not declared, so it is a "
        "scalar input: did you mean 'hidden'? Else declare it, e.g. "
        "'hiden: array[N]'",
    ),
    (
        "X: array[N, D]\nf = sum(X @ W.T)",
        "<expr>:2:13: '.T' works on arrays, but 'W' is not declared, so it is a scalar "
        "input: declare it, e.g. 'W: array[H, K]'",
    ),
]


@pytest.mark.parametrize(("source", "line"), UNDECLARED_ARRAYS)
def test_an_undeclared_array_is_named_with_a_declaration(
    capsys: pytest.CaptureFixture[str], source: str, line: str
) -> None:
    status, out, err = _main(capsys, source)
    assert (status, out) == (2, "")
    assert err == [f"backpropgen: error: {line}"]


def test_a_declared_scalar_in_a_shape_error_gets_no_declaration_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``w`` is declared a scalar: the user chose that, so only the shapes are named."""
    status, _, err = _main(capsys, "X: array[N, D]\nw: float\nf = sum(X @ w)")
    assert status == 2
    assert err == [
        "backpropgen: error: <expr>:3:9: in 'f = sum(X @ w)': '@' needs vectors or "
        "matrices, got shapes (N, D) and ()"
    ]


UNSUPPORTED = [
    (
        "X: array[N, D]\nf = sum(transpose(X, 0, 1))",
        "<expr>:2:9: transpose() takes 1 to 2 arguments, got 3; to swap two axes "
        "write swapaxes(a, i, j), to permute them transpose(a, (0, 2, 1)), for the "
        "last two a.mT",
    ),
    (
        "h = x\nwhile h < 3:\n    h = h * 2\nf = h",
        "<expr>:2:1: unsupported statement 'while': loops are written "
        "'for t in range(4):' or 'for t in range(1, 3):'",
    ),
    (
        "X: array[T, D]\nh = 0.0\nfor x in X:\n    h = h + sum(x)\nf = h",
        "<expr>:3:10: a loop runs over range(), not over X: write "
        "'for t in range(4):' and read X[t]",
    ),
    (
        "h = x\nfor i in range(n):\n    h = h * 2\nf = h",
        "<expr>:2:16: range() bounds must be integer literals (n is not); loops are "
        "written 'for t in range(4):' or 'for t in range(1, 3):'",
    ),
    (
        "if x > 0:\n    f = x\nelse:\n    f = -x",
        "<expr>:1:1: unsupported statement 'if': only assignments, expressions and "
        "loops 'for t in range(4):'; for a value chosen by a condition write "
        "where(cond, a, b)",
    ),
    (
        "import numpy as np\nf = np.exp(x)",
        "<expr>:1:1: unsupported statement 'import': only assignments, expressions "
        "and loops 'for t in range(4):'; nothing needs importing: the functions are "
        "built in (write exp(x))",
    ),
]


@pytest.mark.parametrize(("source", "line"), UNSUPPORTED)
def test_what_stays_unsupported_names_what_works(
    capsys: pytest.CaptureFixture[str], source: str, line: str
) -> None:
    status, out, err = _main(capsys, source)
    assert (status, out) == (2, "")
    assert err == [f"backpropgen: error: {line}"]


# --- the naive softmax ---------------------------------------------------------------

NAIVE = """\
s: array[N, C]
w: array[N, C]
p = exp(s) / sum(exp(s), axis=1, keepdims=True)
f = sum(p * w)
"""
BY_HAND = NAIVE.replace(
    "exp(s) / sum(exp(s), axis=1, keepdims=True)", "softmax(s, axis=1)"
)


def test_naive_softmax_is_warned_with_the_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_path = tmp_path / "out.py"
    status, _, err = _main(capsys, NAIVE, "-o", str(out_path))
    assert status == 0 and out_path.exists()
    assert err == [
        "backpropgen: warning: <expr>:3:5: exp(s) / sum(exp(s), ...) overflows to inf "
        "/ inf = nan for scores above about 709; write softmax(s, axis=1) (or "
        "generate with --stable)"
    ]
    with pytest.warns(bpg.BackpropgenWarning, match=r"write softmax\(s, axis=1\)"):
        bpg.generate(NAIVE)


def _body(text: str) -> str:
    return text.split('"""', 2)[2]


def test_stable_writes_softmax() -> None:
    rewritten = generate(NAIVE, options(stable=True))
    assert _body(rewritten) == _body(generate(BY_HAND, options()))
    assert "exp(s) / sum(exp(s), ...) as softmax(s, axis=1) (line 3)" in " ".join(
        rewritten.split()
    )
    assert compile_source(NAIVE, options(stable=True)).warnings == ()


def test_stable_softmax_agrees_where_naive_works_and_is_finite_where_it_fails() -> None:
    naive = load(NAIVE, options())
    fixed = load(NAIVE, options(stable=True))
    rng = np.random.default_rng(0)
    s, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    f1, (ds1, dw1) = naive.forward_backward(s, w)
    f2, (ds2, dw2) = fixed.forward_backward(s, w)
    assert abs(f1 - f2) <= 1e-14 * max(1.0, abs(f1))
    np.testing.assert_allclose(ds2, ds1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dw2, dw1, rtol=1e-12, atol=1e-15)
    large = s + 1000.0  # softmax is shift-invariant: the same values and gradients
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        f_naive, _ = naive.forward_backward(large, w)
    assert np.isnan(f_naive)
    f3, (ds3, _) = fixed.forward_backward(large, w)
    assert abs(f3 - f2) <= 1e-12 * max(1.0, abs(f2))
    np.testing.assert_allclose(ds3, ds2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("written", "stable"),
    [
        ("s: array[N]\nf = sum(exp(s) / sum(exp(s)) * s)", "softmax(s, axis=None)"),
        (
            "s: array[N, C]\nf = sum(exp(s) / sum(exp(s), axis=-1, keepdims=True) * s)",
            "softmax(s, axis=-1)",
        ),
    ],
)
def test_naive_softmax_spellings(written: str, stable: str) -> None:
    (found,) = compile_source(written, options()).warnings
    assert f"write {stable}" in found
    assert len(compile_source(written, options(stable=True)).warnings) == 0


@pytest.mark.parametrize(
    "source",
    [
        "s: array[N, C]\nt: array[N, C]\nf = sum(exp(s) / sum(exp(t), axis=1, "
        "keepdims=True))",
        "s: array[N]\nf = sum(exp(s) / sum(exp(s), axis=0))",  # no keepdims: not it
        "s: array[N, C]\nf = sum(exp(s) / sum(s, axis=1, keepdims=True))",
    ],
)
def test_other_quotients_are_not_softmax(source: str) -> None:
    assert compile_source(source, options()).warnings == ()


def test_a_deep_argument_is_compared_without_recursion() -> None:
    """The two arguments of a naive softmax are compared iteratively."""
    deep = " + ".join(["s"] * 3000)
    source = f"s: array[N]\nf = sum(exp({deep}) / sum(exp({deep})) * s)"
    (found,) = compile_source(source, options()).warnings
    assert "write softmax(a, axis=None)" in found


def test_many_undeclared_names_are_counted_after_ten() -> None:
    names = [f"v{i}" for i in range(25)]
    source = "x: float\nf = x * " + " * ".join(names)
    found = _warnings(source)
    assert len(found) == 11
    assert found[9].startswith("prog.bp:2:") and "'v9' is not declared" in found[9]
    assert found[10].endswith(
        "'v10' and 14 more names are not declared, so they are scalar inputs"
    )
