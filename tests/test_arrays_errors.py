"""Array programs the generator must refuse: exit status 2, one line on stderr that
names the statement (its text, or its file:line location) and what is wrong, no
traceback, and nothing written with -o."""

from __future__ import annotations

import pytest

import cli
from codegen.errors import BackpropgenError
from codegen.generate import Options, compile_source

#: id -> (program, line of the culprit or None, substrings the message must contain)
ERRORS: dict[str, tuple[str, int | None, tuple[str, ...]]] = {
    "add_shapes": (
        "A: array[N, D]\nB: array[D, N]\nC = A + B\n",
        3,
        ("'C = A + B'", "(N, D)", "(D, N)", "broadcast"),
    ),
    "mul_shapes_vector": (
        "A: array[N, D]\nb: array[N]\nC = A * b\n",
        3,
        ("'C = A * b'", "(N, D)", "(N,)"),
    ),
    "where_shapes": (
        "A: array[N, D]\nB: array[D, N]\ns = where(A > 0, A, B)\n",
        3,
        ("(N, D)", "(D, N)"),
    ),
    "matmul_inner": (
        "A: array[N, D]\nB: array[N, D]\nC = A @ B\n",
        3,
        ("'C = A @ B'", "inner", "(N, D)"),
    ),
    "matvec_inner": (
        "A: array[N, D]\nv: array[N]\nC = A @ v\n",
        3,
        ("'C = A @ v'", "(N, D)", "(N,)"),
    ),
    "matmul_scalar": (
        "x: float\nA: array[N, D]\nC = x @ A\n",
        3,
        ("'C = x @ A'", "()", "(N, D)"),
    ),
    "matmul_rank3_inner": (
        "A: array[N, D, K]\nB: array[D, M]\ns = A @ B\n",
        3,
        ("(N, D, K)", "(D, M)"),
    ),
    "sum_axis": (
        "A: array[N, D]\ns = sum(A, axis=2)\n",
        2,
        ("'s = sum(A, axis=2)'", "axis 2", "rank 2"),
    ),
    "mean_negative_axis": (
        "A: array[N, D]\ns = mean(A, axis=-3)\n",
        2,
        ("axis -3", "rank 2"),
    ),
    "max_tuple_axis": (
        "A: array[N, D]\ns = max(A, axis=(0, 2))\n",
        2,
        ("axis 2", "rank 2"),
    ),
    "softmax_axis": (
        "A: array[N, D]\ns = softmax(A, axis=2)\n",
        2,
        ("axis 2",),
    ),
    "logsumexp_axis": (
        "a: array[N]\ns = logsumexp(a, axis=1)\n",
        2,
        ("axis 1", "rank 1"),
    ),
    "float_index": (
        "A: array[N, D]\nb: array[N]\ns = A[b]\n",
        3,
        ("index", "float"),
    ),
    "too_many_indices": (
        "A: array[N, D]\ny: int[N]\ns = A[y, y, y]\n",
        3,
        ("too many indices", "(N, D)"),
    ),
    "where_not_comparison": (
        "A: array[N, D]\nB: array[N, D]\ns = where(A, A, B)\n",
        3,
        ("where()", "comparison"),
    ),
    "reshape_size": (
        "A: array[N, D]\ns = reshape(A, N, 2)\n",
        2,
        ("'s = reshape(A, N, 2)'", "(N, D)", "(N, 2)"),
    ),
    "reshape_symbol": (
        "A: array[N, D]\nB: array[N, M]\ns = reshape(A, N, M)\n",
        3,
        ("(N, D)", "(N, M)"),
    ),
    "unknown_declaration": (
        "x: list\ny = x * 2\n",
        1,
        ("declaration", "array[N, D]"),
    ),
    "dimension_assigned": (
        "A: array[N, D]\nN = sum(A)\nf = N * 2\n",
        2,
        ("'N'", "dimension of A", "line 1"),
    ),
    "dimension_declared": (
        "A: array[N, D]\nN: float\nf = sum(A) * N\n",
        2,
        ("'N'", "dimension of A"),
    ),
    "keepdims_not_bool": (
        "A: array[N]\nf = sum(A, keepdims=2)\n",
        2,
        ("keepdims", "True or False"),
    ),
    "axis_bool": (
        "A: array[N, D]\nf = sum(sum(A, axis=True))\n",
        2,
        ("axis", "int"),
    ),
    "axis_repeated": (
        "A: array[N, D]\nf = sum(sum(A, axis=(0, -2)))\n",
        2,
        ("(0, -2)", "twice"),
    ),
    "keyword_twice": (
        "A: array[N]\nf = sum(A, axis=0, axis=0)\n",
        2,
        ("'axis' twice",),
    ),
    "int_negative_power": (
        "y: int[N]\nA: array[N]\nf = sum(A * y ** -1)\n",
        3,
        ("negative", "** -1.0"),
    ),
    "int_scalar_negative_power": (
        "X: array[N]\ny: int[N]\nL = sum(X * sum(y) ** -1)\n",
        3,
        ("negative", "** -1.0"),
    ),
    "int_power_of_int_array": (
        "y: int[N]\nA: array[N]\nf = sum(A * 2 ** y)\n",
        3,
        ("int", "2.0 ** y"),
    ),
}


def _run(tmp_path, capsys, argv):
    status = cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _assert_one_line_error(status, out, err):
    assert status == 2
    assert out == ""
    assert err.endswith("\n")
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("backpropgen: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_array_program_errors(name, tmp_path, capsys):
    source, line, needles = ERRORS[name]
    program = tmp_path / f"{name}.bp"
    program.write_text(source, encoding="utf-8")
    target = tmp_path / "out.py"
    status, out, err = _run(tmp_path, capsys, ["-f", str(program), "-o", str(target)])
    _assert_one_line_error(status, out, err)
    assert not target.exists()
    for needle in needles:
        assert needle in err, (needle, err)
    # it names the statement: its location in the file
    where = f"{program}:{line}:" if line is not None else str(program)
    assert where in err, (where, err)
    # the library raises the same error as a BackpropgenError, not a bare exception
    with pytest.raises(BackpropgenError):
        compile_source(source, Options(), str(program))


def test_error_leaves_an_existing_output_untouched(tmp_path, capsys):
    program = tmp_path / "bad.bp"
    program.write_text("A: array[N, D]\nB: array[D, N]\nC = A + B\n", encoding="utf-8")
    target = tmp_path / "out.py"
    target.write_text("# keep me\n", encoding="utf-8")
    status, out, err = _run(tmp_path, capsys, ["-f", str(program), "-o", str(target)])
    _assert_one_line_error(status, out, err)
    assert target.read_text(encoding="utf-8") == "# keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bp", "out.py"]


def test_math_backend_refuses_array_programs(tmp_path, capsys):
    program = tmp_path / "mm.bp"
    program.write_text("X: array[N, D]\nW: array[D, M]\nY = X @ W\n", encoding="utf-8")
    target = tmp_path / "mm.py"
    status, out, err = _run(
        tmp_path,
        capsys,
        ["-f", str(program), "--backend", "math", "-o", str(target)],
    )
    _assert_one_line_error(status, out, err)
    assert "--backend math" in err and "numpy" in err
    assert not target.exists()


def test_expression_errors_name_the_statement(capsys):
    status = cli.main(["A: array[N, D]; B: array[D]; C = A @ B + A"])
    captured = capsys.readouterr()
    _assert_one_line_error(status, captured.out, captured.err)
    assert "(N,)" in captured.err and "(N, D)" in captured.err


def test_valid_array_program_writes_a_module(tmp_path, capsys):
    """The counterpart of the errors: the same CLI path succeeds on a good program."""
    program = tmp_path / "good.bp"
    program.write_text(
        "A: array[N, D]\nB: array[D, N]\nC = A + B.T\n", encoding="utf-8"
    )
    target = tmp_path / "good.py"
    status, out, err = _run(tmp_path, capsys, ["-f", str(program), "-o", str(target)])
    assert status == 0, err
    text = target.read_text(encoding="utf-8")
    assert "def forward_backward(A, B, dC):" in text
    assert "import math" not in text
