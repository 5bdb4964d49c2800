"""The modes of differentiation in generated modules (--mode): jvp = J·v, hvp = H·v,
hessian and jacobian against SymPy's derivatives of the program's meaning, on both
backends, from the imported module."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
import sympy
from conftest import REPO, load
from oracles import SYMPY_ATOL, SYMPY_RTOL, oracle, sympy_at

from codegen.evaluate import load_module
from codegen.generate import Options, compile_source, generate
from codegen.ir import count_ops
from codegen.symbolic import to_sympy

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_scalar import random_dag as _random_dag  # noqa: E402

MODES = ("grad", "jvp", "hvp", "hessian", "jacobian")

PROGRAMS = [
    "sin(x) * exp(x*y) + x**3 / y",
    "sigmoid(x*y) + tanh(x - y)",
    "log(x*x + y*y) * sqrt(x + 3)",
    "a = x*y; b = a*a + x; f = b / (y + 2)",
    "exp(-x) * cos(y) + x*x*x*y",
    "x ** y + 2 ** x * z",
    "q = y*z; f = x + q",
]

#: float evaluation of the same math as SymPy's (30 digits, oracles.sympy_at); stricter
#: than the general SYMPY_RTOL / SYMPY_ATOL: these points and every intermediate value
#: are of order one, so round-off stays near n * eps
RTOL = 1e-9
ATOL = 1e-12
assert RTOL <= SYMPY_RTOL and ATOL <= SYMPY_ATOL


def _compiled(source: str, backend: str):
    return compile_source(source, Options(backend=backend, mode=MODES))


def _meaning(source: str, backend: str):
    compiled = _compiled(source, backend)
    forward = compiled.forward
    (output,) = forward.outputs
    symbols = [sympy.Symbol(n, real=True) for n in forward.inputs]
    f = to_sympy(forward)[output]
    return compiled, symbols, f


def _point(source: str, n: int) -> list[float]:
    rng = random.Random(source)
    return [rng.uniform(0.6, 1.6) for _ in range(n)]


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize("source", PROGRAMS)
def test_every_mode_against_sympy(source: str, backend: str) -> None:
    compiled, symbols, f = _meaning(source, backend)
    module = load(source, Options(backend=backend, mode=MODES))
    n = len(symbols)
    point = _point(source, n)
    vector = [0.5 - 0.3 * k for k in range(n)]
    at = dict(zip(symbols, point, strict=True))
    grad = [sympy.diff(f, s) for s in symbols]
    hess = [[sympy.diff(g, s) for s in symbols] for g in grad]
    want_value = sympy_at(f, at)
    want_grad = [sympy_at(g, at) for g in grad]
    want_h = [[sympy_at(h, at) for h in row] for row in hess]

    value, tangent = module.jvp(*point, *vector)
    assert float(value) == pytest.approx(want_value, rel=RTOL)
    jv = sum(g * v for g, v in zip(want_grad, vector, strict=True))
    assert float(tangent) == pytest.approx(jv, rel=RTOL, abs=ATOL)

    value, grads, hv = module.hvp(*point, *vector)
    assert [float(g) for g in grads] == pytest.approx(want_grad, rel=RTOL, abs=ATOL)
    want_hv = [sum(h * v for h, v in zip(row, vector, strict=True)) for row in want_h]
    assert [float(e) for e in hv] == pytest.approx(want_hv, rel=RTOL, abs=ATOL)
    assert tuple(type(hv)._fields) == tuple(module.WRT)

    value, grads, hessian = module.hessian(*point)
    got = np.array(hessian, dtype=float)
    assert got.shape == (n, n)
    assert got == pytest.approx(np.array(want_h), rel=RTOL, abs=ATOL)
    # symmetric as computed: each entry is its own sweep, none mirrored
    assert got == pytest.approx(got.T, rel=1e-12, abs=1e-12)

    values, jac = module.jacobian(*point)
    got = np.array(jac, dtype=float)
    assert got.shape == (1, n)
    assert got[0] == pytest.approx(want_grad, rel=RTOL, abs=ATOL)


def test_numpy_modes_evaluate_batches() -> None:
    """One call over a batch of points: the Hessian is (n, n, batch), each slice the
    Hessian at that point."""
    source = "sigmoid(x*y) + tanh(x - y) * y"
    module = load(source, Options(mode=MODES))
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(0.5, 1.5, (2, 7))
    _, _, batch = module.hessian(xs, ys)
    assert batch.shape == (2, 2, 7)
    for k in range(7):
        _, _, one = module.hessian(float(xs[k]), float(ys[k]))
        assert batch[:, :, k] == pytest.approx(one, rel=1e-13)
    _, grads, hv = module.hvp(xs, ys, np.ones(7), np.zeros(7))
    assert hv.x == pytest.approx(batch[0, 0], rel=1e-13)
    assert hv.y == pytest.approx(batch[1, 0], rel=1e-13)
    # an input the output ignores still gets a gradient shaped like the batch
    ignore = load("f = x * 2 + 0 * y", Options(mode=("hvp",)))
    _, grads, hv = ignore.hvp(xs, ys, np.ones(7), np.ones(7))
    assert np.shape(grads.x) == (7,)


@pytest.mark.parametrize(
    ("source", "hessian", "jacobian"),
    [
        # every entry a number: the matrices still get the batch's shape
        ("f = x + y", [[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0]]),
        ("f = 3 * x * y", [[0.0, 3.0], [3.0, 0.0]], None),
        ("u = 2 * x\nv = x - y\nu, v", None, [[2.0, 0.0], [1.0, -1.0]]),
    ],
)
def test_constant_matrices_of_a_batch_call_have_the_batch_shape(
    source: str, hessian: list | None, jacobian: list | None
) -> None:
    modes = tuple(m for m, v in (("hessian", hessian), ("jacobian", jacobian)) if v)
    module = load(source, Options(mode=modes))
    xs = np.linspace(0.5, 1.5, 4).reshape(2, 2)  # a 2-d batch, y a plain number
    for expected, matrix in (
        (hessian, lambda: module.hessian(xs, 0.25)[2]),
        (jacobian, lambda: module.jacobian(xs, 0.25)[1]),
    ):
        if expected is None:
            continue
        got = matrix()
        assert got.shape == np.shape(expected) + (2, 2)
        want = np.broadcast_to(np.array(expected)[..., None, None], got.shape)
        np.testing.assert_array_equal(got, want)
    if hessian:  # one point: no batch axes
        assert module.hessian(0.5, 0.25)[2].shape == (2, 2)


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_a_constant_output_has_zero_matrices_and_says_so(backend: str) -> None:
    """f = 3: no statement is left reading the upstream seed, every sweep's heading
    says it is all zero, and the matrices are zeros (numbers on a point)."""
    opts = Options(backend=backend, inputs=("x", "y"), mode=("hessian", "jacobian"))
    text = generate("f = 3", opts)
    assert "df = " not in text and "df_df = " not in text
    for heading in (
        "# second derivatives along x: all zero",
        "# second derivatives along y: all zero",
        "# derivatives of f: all zero",
    ):
        assert heading in text.splitlines() or f"    {heading}" in text.splitlines()
    module = load_module(text)
    f, grads, hess = module.hessian(0.5, 2.0)
    assert f == 3 and tuple(grads) == (0.0, 0.0)
    np.testing.assert_array_equal(np.array(hess, dtype=float), np.zeros((2, 2)))
    f, jac = module.jacobian(0.5, 2.0)
    np.testing.assert_array_equal(np.array(jac, dtype=float), np.zeros((1, 2)))


def test_jacobian_of_several_inputs_and_modes_in_the_header() -> None:
    text = generate("f = x * y * z", Options(backend="math", mode=("jacobian",)))
    assert "(reverse mode)" in text
    module = load_module(text)
    values, jac = module.jacobian(2.0, 3.0, 5.0)
    assert values == 30.0
    assert jac == ((15.0, 10.0, 6.0),)


def test_modes_combine_in_one_module_with_one_namer() -> None:
    text = generate("f = x * y", Options(mode=("hvp", "jvp")))
    module = load_module(text)
    for name in ("forward", "forward_backward", "jvp", "hvp"):
        assert callable(getattr(module, name))
    assert not hasattr(module, "hessian")
    # jvp comes before hvp whatever order the modes were given in
    assert text.index("def jvp(") < text.index("def hvp(")


@pytest.mark.parametrize(
    ("source", "mode", "message"),
    [
        ("f = x * y", "gradient", "unknown mode 'gradient'"),
        ("X: array[N]\nf = sum(X * X)", "hessian", "hessian is for scalar programs"),
        ("X: array[N]\nf = X * 2", "hvp", "hvp needs a scalar output"),
    ],
)
def test_bad_modes_are_one_line_errors(source: str, mode: str, message: str) -> None:
    from codegen.errors import OptionError

    with pytest.raises(OptionError, match=message):
        generate(source, Options(mode=(mode,)))


def test_more_than_64_inputs_get_no_hessian() -> None:
    from codegen.errors import OptionError

    source = " + ".join(f"x{k} * x{k}" for k in range(65))
    with pytest.raises(OptionError, match="hvp"):
        generate(source, Options(backend="math", mode=("hessian",)))


# --- several outputs ------------------------------------------------------------------

SEVERAL = [
    ("u = x*y; v = sin(x) + y*y\nu, v", ("x", "y"), ("u", "v")),
    (
        "u = exp(x) * y; v = u / (1 + x*x); w = tanh(v - y)\nw, u, v",
        ("x", "y"),
        ("w", "u", "v"),
    ),
    ("a = x * 2\nb = a * a\nb, a", ("x",), ("b", "a")),  # one input: forward jacobian
]


@pytest.mark.parametrize("backend", ["numpy", "math"])
@pytest.mark.parametrize(("source", "inputs", "outputs"), SEVERAL)
def test_several_outputs_against_sympy(
    source: str, inputs: tuple[str, ...], outputs: tuple[str, ...], backend: str
) -> None:
    opts = Options(backend=backend, mode=("jvp", "jacobian"))
    compiled = compile_source(source, opts)
    assert compiled.forward.outputs == outputs
    module = load(source, opts)
    assert module.OUTPUTS == outputs and not hasattr(module, "OUTPUT")
    meaning = to_sympy(compiled.forward)
    symbols = [sympy.Symbol(n, real=True) for n in inputs]
    point = _point(source, len(inputs))
    at = dict(zip(symbols, point, strict=True))
    jac = [[sympy.diff(meaning[o], s) for s in symbols] for o in outputs]
    want_j = np.array([[float(e.subs(at)) for e in row] for row in jac])
    values = module.forward(*point)
    assert len(values) == len(outputs)
    for got, o in zip(values, outputs, strict=True):
        assert float(got) == pytest.approx(float(meaning[o].subs(at)), rel=RTOL)
    # forward_backward is a vector-Jacobian product: one upstream gradient per output
    upstream = [1.5 - k for k in range(len(outputs))]
    _, grads = module.forward_backward(*point, *upstream)
    assert [float(g) for g in grads] == pytest.approx(
        list(np.array(upstream) @ want_j), rel=RTOL, abs=1e-12
    )
    vector = [0.7 + k for k in range(len(inputs))]
    _, tangents = module.jvp(*point, *vector)
    assert [float(t) for t in tangents] == pytest.approx(
        list(want_j @ np.array(vector)), rel=RTOL, abs=1e-12
    )
    _, got_j = module.jacobian(*point)
    assert np.array(got_j, dtype=float) == pytest.approx(want_j, rel=RTOL, abs=1e-12)
    how = "forward" if len(inputs) < len(outputs) else "reverse"
    assert f"({how} mode)" in module.jacobian.__doc__


def test_outputs_option_and_errors() -> None:
    from codegen.errors import InputError, OptionError

    module = load("u = x*y; v = x + y", Options(outputs=("v", "u")))
    assert module.OUTPUTS == ("v", "u")
    assert module.forward(2.0, 3.0) == (5.0, 6.0)
    with pytest.raises(OptionError, match="output 'w' is not assigned"):
        generate("u = x*y; v = x + 1", Options(outputs=("u", "w")))
    with pytest.raises(OptionError, match="listed twice"):
        generate("u = x*y; v = x + 1", Options(outputs=("u", "u")))
    with pytest.raises(InputError, match="output 'q' is not assigned"):
        generate("u = x*y\nu, q")
    with pytest.raises(InputError, match="only allowed as the last line"):
        generate("u = x*y\nu, u\nv = u")
    with pytest.raises(InputError, match="listed twice"):
        generate("u = x*y\nu, u")
    with pytest.raises(OptionError, match="hvp needs one scalar output"):
        generate("u = x*y\nv = x + y\nu, v", Options(mode=("hvp",)))


def _hvp_ops_of(source: str, target: str) -> int:
    """Ops (+1 per accumulation) of the hvp statements that come from the primal
    statement assigning ``target``: itself, its tangent, its undo block and their
    tangents."""
    compiled = compile_source(source, Options(backend="math", mode=("hvp",)))
    (hvp,) = [f for f in compiled.functions if f.name == "hvp"]
    total = 0
    for stmt in (s for section in hvp.sections for s in section.stmts):
        root = stmt
        while root.origin is not None and root.origin.stmt is not None:
            root = root.origin.stmt
        if root.origin is None and root.target == target:
            total += count_ops(stmt.expr) + (1 if stmt.accumulate else 0)
    return total


def test_hvp_computes_each_local_derivative_once() -> None:
    """c = tanh(t): tanh (1), t3 = c**2 and t4 = 1 - t3 (2), shared by the tangent
    c_dot = t_dot * t4 (1) and the backward dt = dc * t4 (1); t3_dot = 2 * c * c_dot
    (2), t4_dot = -t3_dot (1), dt_dot = dc_dot * t4 + dc * t4_dot (3): 11, where
    computing 1 - c**2 inline in the tangent as well made it 13.  sigmoid: 1 - s shared
    (13, was 14).  The shared statements move to the forward section, after a comment,
    and the values stay H·v (the sympy oracles above run on these programs too)."""
    tanh = "t = x * y; c = tanh(t); f = c * z"
    assert _hvp_ops_of(tanh, "c") == 11
    assert _hvp_ops_of("t = x * y; c = sigmoid(t); f = c * z", "c") == 13
    text = generate(tanh, Options(backend="math", mode=("hvp",)))
    hvp = text[text.index("def hvp(") :]
    assert hvp.count(" = c * c") == 1 and "(1 - c * c)" not in hvp  # c**2, math
    forward = hvp[: hvp.index("# backward")]
    assert "# c = tanh(t): its derivative, for the tangent and the backward" in forward
    module = load_module(text)
    point, vector = (0.3, -0.7, 1.1), (0.5, 0.25, -1.0)
    _, _, hv = module.hvp(*point, *vector)
    x, y, z = sympy.symbols("x y z")
    f = sympy.tanh(x * y) * z
    hessian = sympy.hessian(f, (x, y, z)).subs(dict(zip((x, y, z), point, strict=True)))
    want = [float(v) for v in hessian * sympy.Matrix(vector)]
    assert tuple(hv) == pytest.approx(want, rel=SYMPY_RTOL, abs=SYMPY_ATOL)


def test_a_shared_derivatives_tangent_waits_for_what_it_reads() -> None:
    """The tangent of c**2 is 2 * c * c_dot, written k * c_dot because k = 2 * c is a
    forward value; moved up with c**2, it must come after k (it once came before and
    the hvp raised UnboundLocalError)."""
    source = "t = x * y; c = tanh(t); k = 2 * c; f = c * z + k * y"
    module = load(source, Options(backend="math", mode=("hvp",)))
    point, vector = (0.3, -0.7, 1.1), (0.5, 0.25, -1.0)
    _, _, hv = module.hvp(*point, *vector)
    x, y, z = sympy.symbols("x y z")
    f = sympy.tanh(x * y) * z + 2 * sympy.tanh(x * y) * y
    hessian = sympy.hessian(f, (x, y, z)).subs(dict(zip((x, y, z), point, strict=True)))
    want = [float(v) for v in hessian * sympy.Matrix(vector)]
    assert tuple(hv) == pytest.approx(want, rel=SYMPY_RTOL, abs=SYMPY_ATOL)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_hvp_of_random_dags_against_sympy(seed: int) -> None:
    """The benchmark's random DAGs (every primitive it uses, fan-out, shared local
    derivatives moved across sections): H·v against sympy's Hessian of the program's
    meaning."""
    source = _random_dag(40, seed=seed)
    module = load(source, Options(backend="math", mode=("hvp",)))
    orc = oracle(source)
    rng = random.Random(seed)
    point = {n: rng.uniform(0.6, 1.4) for n in orc.inputs}
    vector = [rng.uniform(-1.0, 1.0) for _ in orc.inputs]
    _, _, hv = module.hvp(*point.values(), *vector)
    subs = orc.subs(point)
    for grad, got in zip(orc.grads, hv, strict=True):
        want = sum(
            sympy_at(sympy.diff(grad, orc.symbols[n]), subs) * v
            for n, v in zip(orc.inputs, vector, strict=True)
        )
        assert got == pytest.approx(want, rel=SYMPY_RTOL, abs=SYMPY_ATOL)


def test_an_output_that_is_an_argument_is_copied_for_numbers_and_arrays() -> None:
    """jvp returns u = x and its tangent x_dot: copies of the caller's arguments,
    which may be Python numbers (no .copy()) or arrays (never handed back)."""
    module = load("u = x; v = x*y; u, v", Options(mode=("jvp",)))
    (u, v), (u_dot, v_dot) = module.jvp(2.0, 3.0, 1.0, 0.0)
    assert (u, v, u_dot, v_dot) == (2.0, 6.0, 1.0, 3.0)
    x, x_dot = np.array([1.0, -0.0, 2.0]), np.ones(3)
    (u, _), (u_dot, _) = module.jvp(x, 3.0, x_dot, 0.0)
    np.testing.assert_array_equal(u, x)
    assert not np.shares_memory(u, x) and not np.shares_memory(u_dot, x_dot)
    assert np.signbit(u[1])  # -0.0 stays -0.0
    ints = load("f = x", Options(mode=("hessian", "jacobian"), inputs=("x", "y")))
    assert ints.hessian(1, 2)[0] == 1
    assert ints.jacobian(1, 2)[0] == 1


def test_hvp_of_sin_reads_the_forward_sine() -> None:
    """s = sin(t) inside a program (its tangent, adjoint and adjoint tangent all
    nonzero): sin, cos once (1), s_dot = t_dot * cos (1), the tangent of cos:
    -(t_dot * s) (2, reusing s instead of computing sin(t) again), dt = ds * cos (1),
    dt_dot = ds_dot * cos + ds * cos_dot (3): 9.  The hand minimum is 8 (the sign
    folded into dt_dot); computing cos(t) for the tangent and again for the backward
    made it 10, recomputing sin(t) too 11."""
    source = "t = x * y; s = sin(t); f = s * z"
    assert _hvp_ops_of(source, "s") == 9
    text = generate(source, Options(backend="math", mode=("hvp",)))
    hvp = text[text.index("def hvp(") :].splitlines()
    code = "\n".join(line for line in hvp if not line.strip().startswith("#"))
    assert code.count(" cos(") == 1  # from math import cos, sin
    assert code.count(" sin(") == 1
