"""Per-call and batch speed of generated modules (issue #12, targets 1-3): run from the
repository root.

    python benchmarks/bench_calls.py              # both sections, a few minutes
    python benchmarks/bench_calls.py --quick      # fewer rounds and points
    python benchmarks/bench_calls.py --section calls   # or: batch

1. calls (targets 1 and 2): one call of ``forward`` (value) and ``forward_backward``
   (value and gradients) on Python floats, for the lecture's section 1 (``x + y*z``),
   section 3 (``examples/sigmoid_chain.bp``) and the seeded random 1,000- and 10,000-op
   DAGs of ``bench_scalar.py``: ``--backend math`` against the hand-written flat
   references of ``benchmarks/reference.py`` (section 1 and 3 written by hand, the DAGs
   by ``reference.flat_reference``: ``from math import``, one statement per backward
   contribution, a plain tuple of gradients), and the numpy backend called with floats
   against the math backend.  Rounds are interleaved (every implementation once per
   round, in turn), each round times a loop of calls; the figures are medians.
2. batch (target 3): the 1,000-op DAG over 100,000 points: one numpy-backend call
   (warm; the first call on fresh arrays apart), against a Python loop over the math
   module, CasADi's compiled VM point by point and its ``Function.map``, and JAX
   ``jit(vmap(value_and_grad))`` (compile time apart); then the batch size where the
   batch call overtakes CasADi point by point.  The same call through the module's
   ``in_chunks`` helper (``--chunks``: ``CHUNK`` points at a time), its first call
   apart, and a sweep of chunk sizes (1,024 to 65,536) that chose ``CHUNK``.
   CasADi and JAX are optional
   (``pip install casadi jax jaxlib``).

The machine is shared: read the ratios, which are taken within one run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import inspect
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import reference  # noqa: E402
from bench_scalar import (  # noqa: E402
    INPUT_BOX,
    SIGMOID_CHAIN,
    _view,
    casadi_graph,
    dag_inputs,
    jax_lib,
    pipeline_compile,
    random_dag,
    scalar_function,
)

from codegen.evaluate import load_module  # noqa: E402
from codegen.generate import compile_source  # noqa: E402
from codegen.options import Options  # noqa: E402
from codegen.render import render  # noqa: E402

TARGET_MATH = 1.1  # target 1: math backend / hand-written
TARGET_NUMPY = 3.0  # target 2: numpy backend on floats / math backend
TARGET_BATCH = 25.0  # target 3: a math call / one point of the batch


def out(line: str = "") -> None:
    print(line, flush=True)


def heading(title: str) -> None:
    out()
    out(title)
    out("=" * len(title))


def fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    for i, row in enumerate([header, ["-" * w for w in widths], *rows]):
        del i
        out(
            "  ".join(
                f"{c:<{w}}" if k == 0 else f"{c:>{w}}"
                for k, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def module_for(source: str, backend: str, name: str):
    compiled = pipeline_compile(source, backend)
    return load_module(render(_view(compiled, source)), name)


def interleaved(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    budget: float = 0.01,
    stat: Callable[[list[float]], float] = statistics.median,
) -> dict[str, float]:
    """Median (or ``stat``) seconds per call of each ``fn``: every round runs each one
    in turn for a loop of calls sized to about ``budget`` seconds (the same count for
    all)."""
    for fn in fns.values():
        fn()
    slowest = 0.0
    for fn in fns.values():
        start = time.perf_counter()
        fn()
        slowest = max(slowest, time.perf_counter() - start)
    inner = max(1, int(budget / max(slowest, 1e-8)))
    times: dict[str, list[float]] = {k: [] for k in fns}
    gc.disable()
    try:
        for _ in range(rounds):
            for key, fn in fns.items():
                loop = range(inner)
                start = time.perf_counter()
                for _ in loop:
                    fn()
                times[key].append((time.perf_counter() - start) / inner)
    finally:
        gc.enable()
    return {k: stat(v) for k, v in times.items()}


# --------------------------------------------------------------------------------------
# 1. calls


def call_cases(quick: bool):
    """(label, source, point, hand-written forward, hand-written forward_backward, the
    source text of the latter when inspect cannot find it)."""
    rng = np.random.default_rng(3)
    cases = [
        (
            "§1 x + y*z",
            "x + y*z",
            (-2.0, 5.0, -4.0),
            reference.add_mul_forward,
            reference.add_mul_forward_backward,
            None,
        ),
        (
            "§3 sigmoid chain",
            SIGMOID_CHAIN.read_text(),
            (0.3,),
            reference.sigmoid_chain_forward,
            reference.sigmoid_chain_forward_backward,
            None,
        ),
    ]
    shared = shared_dag_case()
    if shared is not None:
        cases.append(shared)
    for n in (1_000,) if quick else (1_000, 10_000):
        source = random_dag(n, seed=n)
        ref_text = reference.flat_reference(source)
        ref = load_module(ref_text, f"ref_dag{n}")
        k = sum(line.endswith(": float") for line in source.splitlines())
        point = tuple(float(v) for v in rng.uniform(*INPUT_BOX, size=k))
        cases.append(
            (f"DAG {n:,}", source, point, ref.forward, ref.forward_backward, ref_text)
        )
    return cases


#: the shared random DAG and its hand-written reference (see its README); override
#: with the environment variable BACKPROPGEN_SHARED_DAG
SHARED_DAG = Path(
    os.environ.get("BACKPROPGEN_SHARED_DAG", ROOT.parent / "shared/bench/dag.py")
)


def shared_dag_case():
    """The 1,000-op DAG of ``shared/bench/dag.py`` against its ``emit_reference``
    (``value``, ``value_and_grad``), or None where that file is missing."""
    if not SHARED_DAG.is_file():
        out(f"(no {SHARED_DAG}: the shared DAG case is left out)")
        return None
    spec = importlib.util.spec_from_file_location("shared_dag", SHARED_DAG)
    dag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dag)
    nodes = dag.make_dag(1_000)
    names = dag.names(len(nodes))[: dag.NIN]
    # declared inputs fix the argument order x0..x9
    source = "".join(f"{n}: float\n" for n in names) + dag.spec(nodes)
    ref_text = dag.emit_reference(nodes)
    ref = load_module(ref_text, "shared_dag_ref")
    point = tuple(dag.input_values())
    return (
        "shared DAG 1,000",
        source,
        point,
        ref.value,
        ref.value_and_grad,
        ref_text,
    )


def _inputs(fn: Callable) -> tuple[str, ...]:
    """The parameters of ``fn`` without a default (not the upstream gradient)."""
    parameters = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in parameters if p.default is p.empty)


def named_variant(fn: Callable, source: str, name: str) -> Callable:
    """The hand-written ``forward_backward`` ``fn`` with its plain tuple of gradients
    returned as a namedtuple ``Grads`` instead (``return f, Grads(dx, dy, dz)``), as the
    generated modules return them: the same code otherwise, so the difference between
    the two is the price of ``grads.x`` (the target-1 floor for a named result)."""
    source = source[source.index(f"def {fn.__name__}(") :]
    head, _, tail = source.rpartition("return ")
    output, _, grads = tail.partition(", (")
    grads = grads.rstrip().removesuffix(")").rstrip(",")
    text = f"{head}return {output}, Grads({grads})\n"
    module = load_module(
        "import math\nfrom math import cos, exp, log, sin, sqrt, tanh\n"
        "from collections import namedtuple\n\n"
        f"Grads = namedtuple('Grads', {_inputs(fn)!r})\n\n" + text,
        name,
    )
    return getattr(module, fn.__name__)


def section_calls(quick: bool) -> None:
    heading("1. Per call on Python floats (targets 1 and 2)")
    rounds = 15 if quick else 41
    rows = []
    for label, source, point, ref_f, ref_fb, fb_source in call_cases(quick):
        m = module_for(source, "math", "calls_math")
        n = module_for(source, "numpy", "calls_numpy")
        # all agree before timing
        want_f, want_g = ref_fb(*point)
        for mod in (m, n):
            got_f, got_g = mod.forward_backward(*point)
            assert abs(got_f - want_f) <= 1e-6 * (1 + abs(want_f)), (label, got_f)
            # the big DAGs are ill-conditioned: summation order shows (1e-6 and more)
            scale = max(abs(v) for v in want_g)
            worst = max(abs(a - b) for a, b in zip(got_g, want_g, strict=True))
            assert worst <= 1e-4 * scale, (label, worst / scale)
        text = fb_source or textwrap.dedent(inspect.getsource(ref_fb))
        named_fb = named_variant(ref_fb, text, "calls_named")
        fns = {
            "ref fb named": lambda f=named_fb, p=point: f(*p),
            "ref f": lambda f=ref_f, p=point: f(*p),
            "math f": lambda f=m.forward, p=point: f(*p),
            "numpy f": lambda f=n.forward, p=point: f(*p),
            "ref fb": lambda f=ref_fb, p=point: f(*p),
            "math fb": lambda f=m.forward_backward, p=point: f(*p),
            "numpy fb": lambda f=n.forward_backward, p=point: f(*p),
        }
        t = interleaved(fns, rounds, 0.005 if quick else 0.01)
        rows.append(
            [
                label,
                fmt(t["ref f"]),
                fmt(t["math f"]),
                f"{t['math f'] / t['ref f']:.2f}x",
                fmt(t["ref fb"]),
                fmt(t["math fb"]),
                f"{t['math fb'] / t['ref fb']:.2f}x",
                fmt(t["ref fb named"]),
                f"{t['math fb'] / t['ref fb named']:.2f}x",
                fmt(t["numpy f"]),
                f"{t['numpy f'] / t['math f']:.2f}x",
                fmt(t["numpy fb"]),
                f"{t['numpy fb'] / t['math fb']:.2f}x",
            ]
        )
    table(
        [
            "case",
            "hand f",
            "math f",
            "/hand",
            "hand fb",
            "math fb",
            "/hand",
            "hand fb Grads",
            "/that",
            "numpy f",
            "/math",
            "numpy fb",
            "/math",
        ],
        rows,
    )
    out(
        f"(medians of {rounds} interleaved rounds, each a loop of calls; the call "
        "through a lambda is included in every figure; f = forward, fb = "
        "forward_backward; hand fb Grads = the hand-written fb returning the gradients "
        "as the generated code does, a namedtuple Grads(dx, ...), not a plain tuple: "
        "math fb / that is the gap left once grads.x is paid for; "
        f"targets: math/hand <= {TARGET_MATH}, numpy on floats/math "
        f"<= {TARGET_NUMPY})"
    )


_NAMED_RESULTS = """
import types
from collections import namedtuple

Grads = namedtuple("Grads", ("x", "y", "z"))
_new = tuple.__new__


class Props(tuple):
    __slots__ = ()
    x = property(lambda self: self[0])
    y = property(lambda self: self[1])
    z = property(lambda self: self[2])


class Slots:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z


def make(result):  # the section-1 body returning f, result(dx, dy, dz)
    exec(
        "def fb(x, y, z, df=1.0):\\n"
        "    q = y * z\\n    f = x + q\\n    dx = df\\n    dq = df\\n"
        "    dy = dq * z\\n    dz = dq * y\\n"
        f"    return f, {result}\\n",
        globals(),
    )
    return globals().pop("fb")
"""

#: (label, the result expression, does grads.x work, is it a tuple)
NAMED_RESULTS = (
    ("a plain tuple (the hand-written reference)", "(dx, dy, dz)", False, True),
    ("namedtuple Grads(dx, dy, dz) (generated code)", "Grads(dx, dy, dz)", True, True),
    ("tuple.__new__(Grads, (dx, dy, dz))", "_new(Grads, (dx, dy, dz))", True, True),
    ("tuple subclass with properties", "Props((dx, dy, dz))", True, True),
    (
        "types.SimpleNamespace(x=dx, ...)",
        "types.SimpleNamespace(x=dx, y=dy, z=dz)",
        True,
        False,
    ),
    ("class with __slots__ and __init__", "Slots(dx, dy, dz)", True, False),
    ("dict {'x': dx, ...}", "{'x': dx, 'y': dy, 'z': dz}", False, False),
)


def section_named(quick: bool) -> None:
    """What a gradient result that answers ``grads.x`` costs on the section-1 body:
    the floor under target 1 for forward_backward on the small cases."""
    heading("1b. The price of grads.x on the section-1 body (target 1's floor)")
    namespace: dict[str, object] = {}
    exec(_NAMED_RESULTS, namespace)  # noqa: S102 - the benchmark's own text
    make = namespace["make"]
    fns = {label: make(expr) for label, expr, _, _ in NAMED_RESULTS}
    for (label, _, named, is_tuple), fn in zip(
        NAMED_RESULTS, fns.values(), strict=True
    ):
        f, grads = fn(-2.0, 5.0, -4.0)
        assert f == -22.0
        assert hasattr(grads, "x") == named, label
        assert isinstance(grads, tuple) == is_tuple, label
    point = (-2.0, 5.0, -4.0)
    t = interleaved(
        {k: (lambda f=f: f(*point)) for k, f in fns.items()},
        15 if quick else 41,
        0.005 if quick else 0.01,
    )
    base = t[NAMED_RESULTS[0][0]]
    rows = [
        [
            label,
            fmt(t[label]),
            f"{t[label] / base:.2f}x",
            "yes" if named else "no",
            "yes" if is_tuple else "no",
        ]
        for label, _, named, is_tuple in NAMED_RESULTS
    ]
    table(
        ["forward_backward returns f and", "per call", "/plain", "grads.x", "tuple"],
        rows,
    )
    cheapest = min(
        (t[label] / base, label) for label, _, named, _ in NAMED_RESULTS if named
    )
    out(
        f"(medians of interleaved rounds) the cheapest result with grads.x is "
        f"{cheapest[1]} at {cheapest[0]:.2f}x the plain tuple: target 1 "
        f"(<= {TARGET_MATH}x) is "
        + ("within reach" if cheapest[0] <= TARGET_MATH else "out of reach")
        + " for forward_backward on section 1 with any named result"
    )


# --------------------------------------------------------------------------------------
# 2. batch


def casadi_functions(source: str):
    """The DAG as a CasADi SX ``Function`` of one vector: (value, gradient)."""
    import casadi as ca

    x, last = casadi_graph(source)
    return ca.Function("fb", [x], [last, ca.gradient(last, x)])


def jax_function(source: str):
    """The DAG as a JAX function of its inputs (``jax.nn.sigmoid`` for sigmoid), and
    the number of its inputs."""
    names = dag_inputs(source)
    return scalar_function(source, names, jax_lib()), len(names)


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, first) seconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times[0]


def section_batch(quick: bool) -> None:
    heading("2. Batch: the 1,000-op DAG over many points (target 3)")
    n_points = 20_000 if quick else 100_000
    source = random_dag(1_000, seed=1_000)
    m = module_for(source, "math", "batch_math")
    # --chunks: the same functions, and the in_chunks helper
    chunked = compile_source(source, Options(chunks=True), "<bench>")
    nmod = load_module(render(_view(chunked, source)), "batch_numpy")
    chunk = nmod.CHUNK
    k = len(m.INPUTS)
    rng = np.random.default_rng(7)
    points = rng.uniform(*INPUT_BOX, size=(k, n_points))
    rows_list = points.T.tolist()
    rows: list[list[str]] = []

    n_loop = 2_000 if quick else 10_000
    fb = m.forward_backward
    fb_n = nmod.forward_backward

    # first calls on fresh arrays (each reported apart from the warm figures)
    fresh = tuple(np.array(points[i]) for i in range(k))
    start = time.perf_counter()
    value, grads = fb_n(*fresh)
    first = (time.perf_counter() - start) / n_points
    # equal to the math module point by point (a prefix)
    for j in range(0, n_loop, max(1, n_loop // 50)):
        want_f, want_g = fb(*rows_list[j])
        assert np.isclose(value[j], want_f, rtol=1e-10, atol=1e-12)
        assert np.allclose([g[j] for g in grads], want_g, rtol=1e-8, atol=1e-10)
    fresh = tuple(np.array(points[i]) for i in range(k))
    start = time.perf_counter()
    value_c, grads_c = nmod.in_chunks(fb_n, *fresh)
    first_chunk = (time.perf_counter() - start) / n_points
    assert np.array_equal(value_c, value)
    assert all(np.array_equal(a, b) for a, b in zip(grads_c, grads, strict=True))

    # warm: the math loop over a prefix (per point) and the batch calls in the same
    # interleaved rounds, so target 3's ratios come from one window of the machine
    arrays = tuple(points[i] for i in range(k))
    t_pair = interleaved(
        {
            "math loop": lambda: [fb(*p) for p in rows_list[:n_loop]],
            "one call": lambda: fb_n(*arrays),
            "in_chunks": lambda: nmod.in_chunks(fb_n, *arrays),
            "in_chunks 2 threads": lambda: nmod.in_chunks(fb_n, *arrays, workers=2),
        },
        5 if quick else 9,
        stat=min,  # warm figures: a round's noise only ever adds time
    )
    per_math = t_pair["math loop"] / n_loop
    per_batch = t_pair["one call"] / n_points
    per_chunk = t_pair["in_chunks"] / n_points
    per_threads = t_pair["in_chunks 2 threads"] / n_points
    rows.append(["python loop over the math module", fmt(per_math), "1.0x", ""])
    for label, per, note in (
        (f"numpy batch, one call on {n_points:,} points", per_batch, first),
        (f"numpy batch via in_chunks (size=CHUNK={chunk:,})", per_chunk, first_chunk),
        ("numpy batch via in_chunks(..., workers=2)", per_threads, None),
    ):
        rows.append(
            [
                label,
                fmt(per),
                f"{per_math / per:.1f}x",
                (
                    "two threads: both cores"
                    if note is None
                    else f"first call {fmt(note)}/pt"
                ),
            ]
        )

    casadi_point = None
    try:
        import casadi as ca
    except ImportError:
        rows.append(["casadi", "not installed", "", ""])
    else:
        cfb = casadi_functions(source)
        n_ca = 2_000 if quick else 10_000
        pts = [points[:, j] for j in range(n_ca)]
        t_ca, _ = best_of(lambda: [cfb(p) for p in pts], 3)
        casadi_point = t_ca / n_ca
        rows.append(
            [
                f"casadi {ca.__version__} VM, point by point",
                fmt(casadi_point),
                f"{per_math / casadi_point:.1f}x",
                "",
            ]
        )
        start = time.perf_counter()
        mapped = cfb.map(n_points)
        build = time.perf_counter() - start
        t_map, first_map = best_of(lambda: mapped(points), 3)
        rows.append(
            [
                "casadi Function.map (serial)",
                fmt(t_map / n_points),
                f"{per_math / (t_map / n_points):.1f}x",
                f"map() {fmt(build)}",
            ]
        )
        v_map = np.asarray(mapped(points)[0]).ravel()
        assert np.allclose(v_map, value, rtol=1e-10), "casadi disagrees"

    try:
        import jax
    except ImportError:
        rows.append(["jax", "not installed", "", ""])
    else:
        jax.config.update("jax_enable_x64", True)
        f, n_args = jax_function(source)
        vg = jax.jit(jax.vmap(jax.value_and_grad(f, argnums=tuple(range(n_args)))))
        jarrays = tuple(jax.numpy.asarray(a) for a in arrays)
        start = time.perf_counter()
        jax.block_until_ready(vg(*jarrays))
        compile_time = time.perf_counter() - start
        t_jax, _ = best_of(lambda: jax.block_until_ready(vg(*jarrays)), 5)
        rows.append(
            [
                f"jax {jax.__version__} jit(vmap(value_and_grad))",
                fmt(t_jax / n_points),
                f"{per_math / (t_jax / n_points):.1f}x",
                f"compile+first {fmt(compile_time)}",
            ]
        )
        v_jax = np.asarray(vg(*jarrays)[0])
        assert np.allclose(v_jax, value, rtol=1e-10), "jax disagrees"

    table(["implementation", "per point", "speed-up vs math", "note"], rows)
    out(
        f"(the math loop over the first {n_loop:,} points and the batch calls: bests of "
        "the same interleaved rounds; CasADi and JAX: best of repeated runs)"
    )
    out(
        f"target 3: a point of the batch <= a math call / {TARGET_BATCH:.0f} = "
        f"{fmt(per_math / TARGET_BATCH)}: one call "
        + ("met" if per_math / per_batch >= TARGET_BATCH else "not met")
        + f" ({per_math / per_batch:.1f}x), in_chunks "
        + ("met" if per_math / per_chunk >= TARGET_BATCH else "not met")
        + f" ({per_math / per_chunk:.1f}x), in_chunks with 2 threads "
        + ("met" if per_math / per_threads >= TARGET_BATCH else "not met")
        + f" ({per_math / per_threads:.1f}x; the math loop runs on one core)"
    )

    # the chunk size: a sweep, interleaved with the one call
    sizes = (1024, 2048, 4096, 8192, 16384, 32768, 65536)
    sweep = {"one call": lambda: fb_n(*arrays)}
    for size in sizes:
        for workers in (1, 2):
            sweep[f"{size:,} w{workers}"] = lambda size=size, w=workers: nmod.in_chunks(
                fb_n, *arrays, size=size, workers=w
            )
    t_sweep = interleaved(sweep, 3 if quick else 7)
    out()
    one = t_sweep.pop("one call")
    table(
        ["size", "per point", "vs one call", "workers=2", "vs one call"],
        [["one call", fmt(one / n_points), "1.00x", "", ""]]
        + [
            [
                f"{size:,}" + (" (CHUNK)" if size == chunk else ""),
                fmt(t_sweep[f"{size:,} w1"] / n_points),
                f"{t_sweep[f'{size:,} w1'] / one:.2f}x",
                fmt(t_sweep[f"{size:,} w2"] / n_points),
                f"{t_sweep[f'{size:,} w2'] / one:.2f}x",
            ]
            for size in sizes
        ],
    )
    out(
        f"(in_chunks(forward_backward, ..., size=size, workers=1 or 2) on "
        f"{n_points:,} points, medians of "
        f"{3 if quick else 7} interleaved rounds)"
    )

    if casadi_point is not None:
        sizes = [1, 3, 10, 30, 100, 300, 1000, 10_000]
        found: dict[str, int] = {}
        crossover_rows = []
        for size in sizes:
            sub = tuple(a[:size].copy() for a in arrays)
            t, _ = best_of(lambda sub=sub: nmod.forward_backward(*sub), 7)
            t_c, _ = best_of(lambda sub=sub: nmod.in_chunks(fb_n, *sub), 7)
            casadi_t = size * casadi_point
            crossover_rows.append(
                [f"{size:,}", fmt(t), fmt(t_c), fmt(casadi_t)]
                + ["batch" if x < casadi_t else "casadi" for x in (t, t_c)]
            )
            for key, x in (("the batch call", t), ("in_chunks", t_c)):
                if key not in found and x < casadi_t:
                    found[key] = size
        table(
            [
                "points",
                "one batch call",
                "in_chunks",
                "casadi point by point",
                "faster (call)",
                "faster (in_chunks)",
            ],
            crossover_rows,
        )
        out(f"(in_chunks is one plain call up to CHUNK = {chunk:,} points)")
        for key in ("the batch call", "in_chunks"):
            out(
                f"{key} overtakes CasADi point by point at "
                + (
                    f"{found[key]:,} points"
                    if key in found
                    else "more than the sizes tried"
                )
            )


def git_head() -> str:
    try:
        head = subprocess.run(
            ["git", "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "codegen", "templates", "generated"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head[:70] + ("; codegen/templates modified" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--section", choices=("calls", "batch"), default=None)
    args = parser.parse_args(argv)
    out(
        f"backpropgen call benchmark: python {platform.python_version()}, numpy "
        f"{np.__version__}, {platform.machine()}"
    )
    out(f"command: python benchmarks/bench_calls.py {' '.join(argv or sys.argv[1:])}")
    out(f"code under test: HEAD {git_head()}")
    start = time.perf_counter()
    if args.section in (None, "calls"):
        section_calls(args.quick)
        section_named(args.quick)
    if args.section in (None, "batch"):
        section_batch(args.quick)
    out(f"\ntotal wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
