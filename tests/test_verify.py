"""``--verify``: every gallery module passes; a module with one backward line broken
(a factor, a sign, a transpose, a dropped fan-out term) fails, naming the input; bad
input is one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module
from pathlib import Path

import oracles
import pytest
from conftest import GENERATED, REPO

import cli

# the module: the package's attribute `verify` is the API's function
verify = import_module("codegen.verify")

GALLERY = sorted(p.stem for p in GENERATED.glob("*.py") if p.stem != "__init__")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The gallery module ``name`` with the one line ``old`` replaced by ``new``."""
    text = (GENERATED / f"{name}.py").read_text(encoding="utf-8")
    assert text.count(old) == 1, (name, old)
    path = tmp_path / f"{name}_broken.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _failed(out: str) -> list[tuple[str, str]]:
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[4] == "FAIL":
            rows.append((parts[0], parts[1]))
    return rows


def test_the_tolerances_are_the_oracles() -> None:
    assert (verify.FD_STEP, verify.FD_RTOL, verify.FD_ATOL) == (
        oracles.FD_STEP,
        oracles.FD_RTOL,
        oracles.FD_ATOL,
    )


@pytest.mark.parametrize("name", GALLERY)
def test_every_gallery_module_passes(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["--verify", str(GENERATED / f"{name}.py")], capsys)
    assert (code, err) == (0, ""), out
    assert "FAIL" not in out
    assert out.rstrip().splitlines()[-1].startswith("PASS: all")
    assert "tolerance: |exact - central difference| <= 1e-06" in out


BROKEN = [
    # (module, line as generated, broken line, inputs named): one change each
    ("sigmoid_chain", "    dd = de * 2\n", "    dd = de * 3\n", {"x"}),  # a factor
    ("add_mul", "    dy = dt1 * z\n", "    dy = -dt1 * z\n", {"y"}),  # a sign
    ("mul_gate", "    dx = df * y\n", "    dx = df * x\n", {"x"}),  # swapped
    (  # a transpose dropped: a square W1 (D = H) would not notice; D = 4, H = 5 do
        "two_layer_net",
        "    dX = dt1 @ W1.T  # (N, D)\n",
        "    dX = dt1 @ W1  # (N, D)\n",
        {"X"},
    ),
    (  # the fan-out term dropped: dx gets only one of its two paths
        "copy_gate",
        "    dx = dx + dt1 * y  # fan-out: gradients add up\n",
        "    dx = dt1 * y  # fan-out dropped\n",
        {"x"},
    ),
    (  # the fan-out of scores (gather and the logsumexp path) dropped
        "two_layer_net",
        "    dscores = dscores + dt5  # fan-out: gradients add up; (N, C)\n",
        "    dscores = dt5  # (N, C)\n",
        {"X", "W1", "b1", "W2", "b2"},
    ),
    (  # a sign in an array module
        "batchnorm",
        "    dbeta = dout.sum(axis=0)  # (D,)\n",
        "    dbeta = -dout.sum(axis=0)  # (D,)\n",
        {"beta"},
    ),
    (  # a wrong mask in the relu gate
        "relu_vector",
        "np.where(y > 0, dy, 0.0)",
        "np.where(y > 0, dy, 1.0)",
        {"x"},
    ),
]


@pytest.mark.parametrize(
    ("name", "old", "new", "named"),
    BROKEN,
    ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)],
)
def test_a_broken_backward_line_fails_naming_the_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    old: str,
    new: str,
    named: set[str],
) -> None:
    path = _broken(tmp_path, name, old, new)
    code, out, err = _run(["--verify", str(path)], capsys)
    assert (code, err) == (1, ""), out
    failed = {what for function, what in _failed(out) if function == "forward_backward"}
    assert named <= failed, out
    assert out.rstrip().splitlines()[-1].startswith("FAIL:")


def test_a_wrong_transpose_fails_with_its_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _broken(
        tmp_path,
        "matmul",
        "    dW = X.T @ dY  # (D, M)\n",
        "    dW = (X.T @ dY).T  # (D, M)\n",
    )
    code, out, _ = _run(["--verify", str(path)], capsys)
    assert code == 1
    assert ("forward_backward", "W") in _failed(out)
    assert "shape" in out


def test_broken_second_order_functions_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for old, new, function in [
        ("    dd_dot = de_dot * 2.0\n", "    dd_dot = de_dot * 3.0\n", "hvp"),
        (
            "    dde_dx = dt3_dx * t4 + t3 * dt4_dx\n",
            "    dde_dx = dt3_dx * t4\n",
            "hessian",
        ),
        (
            "    f_dot = e_dot * f * (1.0 - f)\n    return f, f_dot\n",
            "    f_dot = e_dot * f\n    return f, f_dot\n",
            "jvp",
        ),
        ("    df_dd = df_de * 2.0\n", "    df_dd = -df_de * 2.0\n", "jacobian"),
    ]:
        path = _broken(tmp_path, "sigmoid_chain_modes", old, new)
        code, out, _ = _run(["--verify", str(path)], capsys)
        assert code == 1, (function, out)
        assert _failed(out) == [(function, "x")], out


def test_never_passes_a_module_whose_gradient_disagrees_with_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever a hand edit changes in the gradient, a disagreement with forward is
    caught: here the gradient is scaled by 1 + 1e-4 only (far below what a reader
    sees, far above the tolerance)."""
    path = _broken(
        tmp_path,
        "two_layer_net",
        "    return loss, Grads(dX, dW1, db1, dW2, db2)\n",
        "    return loss, Grads(dX, dW1, db1, dW2, db2 * (1 + 1e-4))\n",
    )
    code, out, _ = _run(["--verify", str(path)], capsys)
    assert code == 1
    assert ("forward_backward", "b2") in _failed(out)


def test_forward_edited_alone_fails_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """forward is the reference: changed alone, forward_backward disagrees with it."""
    text = (GENERATED / "add_mul.py").read_text(encoding="utf-8")
    head, sep, tail = text.partition("def forward_backward")
    path = tmp_path / "edited.py"
    path.write_text(head.replace("f = x + t1", "f = x + 2 * t1") + sep + tail)
    code, out, _ = _run(["--verify", str(path)], capsys)
    assert code == 1
    assert {("forward_backward", "y"), ("forward_backward", "z")} <= set(_failed(out))


def test_sizes_are_bound_several_ways_including_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(["--verify", str(GENERATED / "two_layer_net.py")], capsys)
    assert code == 0
    first = out.splitlines()[0]
    assert "N=3 D=4 H=5 C=6" in first and "N=1 D=1 H=1 C=1" in first
    assert "N=1 D=4 H=5 C=6" in first


def test_domain_points_are_positive_where_forward_needs_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(["log(x) * sqrt(y) + x / y", "--verify"], capsys)
    assert code == 0, out


def test_kinks_are_avoided(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        ["max(x, y) + abs(x - y) + relu(z) * min(x, z)", "--verify"], capsys
    )
    assert code == 0, out


def test_generate_and_verify_in_one_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        ["-f", str(REPO / "examples" / "svm_loss_batched.bp"), "--verify"], capsys
    )
    assert code == 0
    assert "forward_backward  W" in out
    target = tmp_path / "m.py"
    code, out, _ = _run(["x*y + sin(x)", "--verify", "-o", str(target)], capsys)
    assert code == 0 and target.is_file()
    assert _run(["--verify", str(target)], capsys)[0] == 0


def test_verifying_never_reads_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (GENERATED / "svm_loss_batched.py").read_text(encoding="utf-8")
    doc_end = text.index('"""', 3) + 3
    path = tmp_path / "no_header.py"
    path.write_text(text[doc_end:], encoding="utf-8")
    assert _run(["--verify", str(path)], capsys)[0] == 0


BAD = [
    ("missing.py", None, "no such file"),
    ("plain.py", "x = 1\n", "not a backpropgen module: no INPUTS"),
    (
        "broken.py",
        "import numpy as np\nraise RuntimeError('boom')\n",
        "fails to import: RuntimeError: boom",
    ),
    ("syntax.py", "def (:\n", "fails to import: SyntaxError"),
]


@pytest.mark.parametrize(("file", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_modules_are_one_line_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    text: str | None,
    message: str,
) -> None:
    path = tmp_path / file
    if text is not None:
        path.write_text(text, encoding="utf-8")
    code, out, err = _run(["--verify", str(path)], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err, err


def test_a_module_without_shapes_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (GENERATED / "two_layer_net.py").read_text(encoding="utf-8")
    start = text.index("SHAPES = {")
    end = text.index("}\n", start) + 2  # black may split it over lines
    path = tmp_path / "no_shapes.py"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    code, out, err = _run(["--verify", str(path)], capsys)
    assert (code, out) == (2, "")
    assert "has no SHAPES" in err and err.count("\n") == 1
    text = (GENERATED / "svm_loss_batched.py").read_text(encoding="utf-8")
    assert text.count('"X": ("N", "D"), ') == 1
    path.write_text(text.replace('"X": ("N", "D"), ', ""), encoding="utf-8")
    code, _, err = _run(["--verify", str(path)], capsys)
    assert code == 2 and "SHAPES has no entry for input 'X'" in err


def test_verify_output_is_deterministic() -> None:
    def run() -> str:
        return subprocess.run(
            [sys.executable, "-m", "cli", "--verify", "generated/svm_loss.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": "7", "PATH": ""},
            check=False,
        ).stdout

    assert run() == run() != ""


def test_index_bounds_follow_reshapes() -> None:
    from codegen.generate import Options, compile_source
    from codegen.module import index_bounds

    source = (REPO / "examples" / "svm_loss_batched.bp").read_text(encoding="utf-8")
    forward = compile_source(source, Options()).forward
    assert index_bounds(forward) == {"y": ["C"]}


def test_a_large_input_is_checked_at_a_sample_of_its_coordinates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An input of more than MAX_COORDINATES elements is checked by central
    differences at a seeded sample of them: a wrong gradient still fails, a right one
    passes, and the check stays fast."""
    from codegen.generate import Options, generate
    from codegen.verify import verify_file
    from codegen.verify_check import MAX_COORDINATES

    source = "x: array[40, 40]\nf = sum(x * x * x)"
    text = generate(source, Options())
    assert 40 * 40 > MAX_COORDINATES
    good = tmp_path / "good.py"
    good.write_text(text)
    assert verify_file(str(good)).passed
    assert "dx = dt2 * t1  #" in text
    bad = tmp_path / "bad.py"
    bad.write_text(text.replace("dx = dt2 * t1  #", "dx = dt2 * t1 * 1.001  #"))
    report = verify_file(str(bad))
    assert not report.passed
