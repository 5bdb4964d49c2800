"""Speed of the generated array code (issue #3, "Speed"): run from the repository root.

    python benchmarks/bench_arrays.py            # default run, under ~3 minutes
    python benchmarks/bench_arrays.py --quick    # fewer repeats, under ~30 s
    python benchmarks/bench_arrays.py --profile  # always add the per-statement profile
    python benchmarks/bench_arrays.py --threads 1  # cap BLAS (and torch/XLA) threads

The end of the run compares the layout of each weight gradient: ``A.T @ G`` as generated
against ``(G.T @ A).T`` (issue #12, target 4).

Two cases, float64, seeded random data:

- two_layer_net (N=128, D=784, H=100, C=10): generated/two_layer_net.py
- svm_loss_batched (N=500, D=3073, C=10): generated/svm_loss_batched.py

each against the hand-written NumPy reference in benchmarks/reference.py (checked
against the generated module, value and gradients, before anything is timed: the run
aborts if they disagree). Reported: median and IQR of ``forward_backward`` and
``forward``, the ratio generated / reference (target: within 1.1x), and
``forward_backward / forward``. PyTorch, JAX and autograd are timed in the same run when
importable (optional; ``pip install torch==2.13.0 jax jaxlib autograd threadpoolctl``).

All implementations of a case are timed in interleaved rounds (one call of each per
round, in a shuffled order), so slow drifts of the machine hit them all alike. When the
generated code is more than 1.1x slower than the reference, or with ``--profile``, every
top-level statement of both ``forward_backward`` functions is timed on its own.
"""

from __future__ import annotations

import argparse
import ast
import gc
import hashlib
import importlib
import importlib.metadata
import inspect
import os
import platform
import random
import statistics
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TARGET = 1.1  # issue #3
TARGET_12 = 1.05  # issue #12, target 4 (one BLAS thread and the default)
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "XLA_FLAGS",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (<30 s)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="per-statement profile even when the generated code is within 1.1x",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="cap BLAS threads (threadpoolctl), torch and XLA to this many; "
        "default: leave NumPy's configuration as it is",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-frameworks", action="store_true", help="skip torch, JAX and autograd"
    )
    return parser.parse_args(argv)


ARGS = parse_args()
if ARGS.threads == 1 and "XLA_FLAGS" not in os.environ:
    # only read when jax is first imported; set before any import of it
    os.environ["XLA_FLAGS"] = (
        "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )

import numpy as np  # noqa: E402
import reference  # noqa: E402

# ---------------------------------------------------------------------------------------
# machine and thread configuration


def blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return max(counts) if counts else None


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cpu_busy_elsewhere(seconds: float = 0.5) -> float | None:
    """Fraction of all CPUs busy over a short window before we start (Linux only)."""

    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return idle, sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except OSError:
        return None
    total = total1 - total0
    return 1.0 - (idle1 - idle0) / total if total else None


def print_header(threadpool_limiter) -> None:
    print("$ python " + " ".join([sys.argv[0], *sys.argv[1:]]))
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"numpy {np.__version__}")
    cpus = os.cpu_count()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"CPUs: os.cpu_count()={cpus}, usable by this process={affinity}")
    for var in ENV_VARS:
        print(f"  {var}={os.environ.get(var, '(unset)')}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print(
            "threadpoolctl not installed: BLAS thread count unknown; np.show_config():"
        )
        np.show_config()
    else:
        for pool in threadpool_info():
            keys = ("user_api", "internal_api", "num_threads", "version")
            desc = ", ".join(f"{k}={pool.get(k)}" for k in keys)
            extra = pool.get("threading_layer"), pool.get("architecture")
            print(
                f"  pool: {desc}, threading_layer={extra[0]}, architecture={extra[1]}"
            )
    if threadpool_limiter is not None:
        print(f"  (--threads {ARGS.threads}: BLAS limited with threadpoolctl)")
    busy = cpu_busy_elsewhere()
    try:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "?"
    if busy is not None:
        print(f"CPU busy before start: {busy:.0%} of all CPUs; load average {load}")
        if busy > 0.15:
            print(
                "  WARNING: other processes are using the CPU. Multi-threaded BLAS waits"
                " for its slowest thread, so figures (not only absolute times) can be"
                " distorted; rerun on a quiet machine or with --threads 1."
            )
    for name in ("two_layer_net", "svm_loss_batched"):
        path = ROOT / "generated" / f"{name}.py"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        print(f"generated/{name}.py sha256 {digest}")


# ---------------------------------------------------------------------------------------
# cases


@dataclass
class Impl:
    name: str
    forward_backward: Callable[[], object]
    forward: Callable[[], object]
    note: str = ""


@dataclass
class Case:
    name: str
    dims: str
    module: object
    args: tuple
    ref_fb: Callable
    ref_fwd: Callable
    impls: list[Impl] = field(default_factory=list)


def make_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    n, d, h, c = 128, 784, 100, 10
    two_layer_args = (
        rng.standard_normal((n, d)),
        rng.standard_normal((d, h)) / np.sqrt(d),
        0.1 * rng.standard_normal(h),
        rng.standard_normal((h, c)) / np.sqrt(h),
        0.1 * rng.standard_normal(c),
        rng.integers(0, c, n),
    )
    n, d, c = 500, 3073, 10
    svm_args = (
        rng.standard_normal((n, d)),
        rng.standard_normal((d, c)) / np.sqrt(d),
        rng.integers(0, c, n),
    )
    two_layer = importlib.import_module("generated.two_layer_net")
    svm = importlib.import_module("generated.svm_loss_batched")
    return [
        Case(
            "two_layer_net",
            "N=128 D=784 H=100 C=10",
            two_layer,
            two_layer_args,
            reference.two_layer_forward_backward,
            reference.two_layer_forward,
        ),
        Case(
            "svm_loss_batched",
            "N=500 D=3073 C=10",
            svm,
            svm_args,
            reference.svm_forward_backward,
            reference.svm_forward,
        ),
    ]


def verify(case: Case) -> None:
    """Abort loudly unless the reference computes the generated module's function."""
    mod = case.module
    problems = []
    loss_g, grads_g = mod.forward_backward(*case.args)
    loss_r, grads_r = case.ref_fb(*case.args)
    if not np.allclose(loss_g, loss_r):
        problems.append(f"forward_backward loss: generated {loss_g!r}, ref {loss_r!r}")
    if not np.allclose(mod.forward(*case.args), case.ref_fwd(*case.args)):
        problems.append("forward value differs")
    if not np.allclose(mod.forward(*case.args), loss_g):
        problems.append("generated forward and forward_backward disagree")
    if len(grads_g) != len(grads_r):
        problems.append(f"{len(grads_g)} generated gradients, {len(grads_r)} in ref")
    for name, g, r in zip(mod.WRT, grads_g, grads_r, strict=False):
        if np.shape(g) != np.shape(r) or not np.allclose(g, r):
            err = np.max(np.abs(np.asarray(g) - np.asarray(r)))
            problems.append(f"d{name}: max abs difference {err:.3g}")
    # the upstream gradient is honoured the same way
    _, grads_g2 = mod.forward_backward(*case.args, dloss=2.5)
    _, grads_r2 = case.ref_fb(*case.args, dloss=2.5)
    for name, g, r in zip(mod.WRT, grads_g2, grads_r2, strict=False):
        if not np.allclose(g, r):
            problems.append(f"d{name} with dloss=2.5 differs")
    if problems:
        print(f"\n!!! REFERENCE DISAGREES WITH generated/{case.name}.py !!!")
        for p in problems:
            print(f"!!!   {p}")
        print("!!! aborting: the timings would compare different functions")
        raise SystemExit(1)
    print(f"  {case.name}: reference == generated (loss {loss_g:.6f}, gradients ok)")


# ---------------------------------------------------------------------------------------
# optional frameworks


def two_layer_expr(xp, logsumexp, relu):
    def loss(X, W1, b1, W2, b2, y):
        hidden = relu(X @ W1 + b1)
        scores = hidden @ W2 + b2
        n = X.shape[0]
        return xp.mean(logsumexp(scores, axis=1) - scores[xp.arange(n), y])

    return loss


def svm_expr(xp, relu):
    def loss(X, W, y):
        n = X.shape[0]
        c = W.shape[1]
        scores = X @ W
        correct = xp.reshape(scores[xp.arange(n), y], (n, 1))
        margins = relu(scores - correct + 1)
        return xp.sum(xp.where(xp.arange(c) == xp.reshape(y, (n, 1)), 0, margins)) / n

    return loss


def add_torch(cases: list[Case], threads: int | None) -> None:
    try:
        import torch
    except ImportError:
        print("  torch: not installed, skipped (pip install torch==2.13.0)")
        return
    if threads is not None:
        torch.set_num_threads(threads)
    print(
        f"  torch {torch.__version__}: float64, loss.backward(), "
        f"torch.get_num_threads()={torch.get_num_threads()}"
        + ("" if threads is not None else " (NumPy's BLAS thread count unknown)")
    )

    def logsumexp(a, axis):
        return torch.logsumexp(a, dim=axis)

    exprs = {
        "two_layer_net": two_layer_expr(torch, logsumexp, torch.relu),
        "svm_loss_batched": svm_expr(torch, torch.relu),
    }
    for case in cases:
        f = exprs[case.name]
        tensors = [torch.from_numpy(np.array(a)) for a in case.args]
        params = [t.requires_grad_() for t in tensors[:-1]]
        y = tensors[-1]

        def fb(f=f, params=params, y=y):
            for p in params:
                p.grad = None
            loss = f(*params, y)
            loss.backward()
            return loss.item(), [p.grad for p in params]

        def fwd(f=f, params=params, y=y):
            with torch.no_grad():
                return f(*params, y).item()

        if check_framework("torch", case, fb, fwd, lambda g: g.numpy()):
            case.impls.append(Impl("torch", fb, fwd, "forward under no_grad"))


def add_jax(cases: list[Case], threads: int | None) -> None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("  jax: not installed, skipped (pip install jax jaxlib)")
        return
    jax.config.update("jax_enable_x64", True)
    flags = os.environ.get("XLA_FLAGS", "")
    print(
        f"  jax {jax.__version__} on {jax.default_backend()}: float64, "
        "jit(value_and_grad) after warm-up; XLA threads: "
        + (f"XLA_FLAGS={flags!r}" if flags else "XLA's default pool (not capped)")
    )
    exprs = {
        "two_layer_net": two_layer_expr(jnp, jax.nn.logsumexp, jax.nn.relu),
        "svm_loss_batched": svm_expr(jnp, jax.nn.relu),
    }
    for case in cases:
        f = exprs[case.name]
        arrays = [jnp.asarray(a) for a in case.args]
        wrt = tuple(range(len(arrays) - 1))
        vg = jax.jit(jax.value_and_grad(f, argnums=wrt))
        fj = jax.jit(f)

        def fb(vg=vg, arrays=arrays):
            loss, grads = vg(*arrays)
            return jax.block_until_ready((loss, grads))

        def fwd(fj=fj, arrays=arrays):
            return fj(*arrays).block_until_ready()

        for _ in range(3):  # compile and warm up
            fb()
            fwd()
        if check_framework("jax", case, fb, fwd, np.asarray):
            case.impls.append(Impl("jax", fb, fwd, "jit"))


def add_autograd(cases: list[Case]) -> None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        print("  autograd: not installed, skipped (pip install autograd)")
        return
    print(f"  autograd {dist_version('autograd')}: value_and_grad, NumPy's BLAS")

    def relu(a):
        return anp.maximum(0.0, a)

    def logsumexp(a, axis):
        m = anp.max(a, axis=axis, keepdims=True)
        return anp.log(anp.sum(anp.exp(a - m), axis=axis)) + anp.reshape(m, (-1,))

    exprs = {
        "two_layer_net": two_layer_expr(anp, logsumexp, relu),
        "svm_loss_batched": svm_expr(anp, relu),
    }
    for case in cases:
        f = exprs[case.name]
        wrt = tuple(range(len(case.args) - 1))
        vg = autograd.value_and_grad(f, wrt)

        def fb(vg=vg, args=case.args):
            return vg(*args)

        def fwd(f=f, args=case.args):
            return f(*args)

        if check_framework("autograd", case, fb, fwd, np.asarray):
            case.impls.append(Impl("autograd", fb, fwd))


def check_framework(name, case, fb, fwd, to_numpy) -> bool:
    loss_r, grads_r = case.ref_fb(*case.args)
    loss, grads = fb()
    ok = np.allclose(float(loss), loss_r) and np.allclose(float(fwd()), loss_r)
    ok = ok and all(
        np.allclose(to_numpy(g), r) for g, r in zip(grads, grads_r, strict=True)
    )
    if not ok:
        print(f"  !!! {name} disagrees with the reference on {case.name}: not timed")
    return ok


# ---------------------------------------------------------------------------------------
# timing


def time_interleaved(
    funcs: dict[str, Callable[[], object]],
    rounds: int,
    budget: float,
    min_rounds: int,
    seed: int,
) -> dict[str, list[float]]:
    """Seconds per call of every function, one call of each per round, shuffled order."""
    order = list(funcs)
    times: dict[str, list[float]] = {k: [] for k in order}
    shuffle = random.Random(seed)
    for f in funcs.values():  # warm-up
        for _ in range(3):
            f()
    gc.collect()
    gc.disable()
    clock = time.perf_counter
    start = clock()
    try:
        for i in range(rounds):
            shuffle.shuffle(order)
            for key in order:
                f = funcs[key]
                t0 = clock()
                f()
                times[key].append(clock() - t0)
            if i + 1 >= min_rounds and clock() - start > budget:
                break
    finally:
        gc.enable()
    return times


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f}"


def report_case(case: Case, times: dict[str, list[float]]) -> float:
    names = ["generated", "reference", *(i.name for i in case.impls[2:])]
    rounds = len(times["generated/fb"])
    print(f"\n{case.name} ({case.dims}, float64): {rounds} interleaved rounds")
    print(
        f"  {'implementation':<11} {'fb median':>10} {'fb IQR':>8} "
        f"{'fwd median':>10} {'fwd IQR':>8} {'fb/fwd':>7} {'fb/ref fb':>9}  (ms)"
    )
    ref_fb = statistics.median(times["reference/fb"])
    for name in names:
        fb1, fb2, fb3 = quartiles(times[f"{name}/fb"])
        fw1, fw2, fw3 = quartiles(times[f"{name}/fwd"])
        print(
            f"  {name:<11} {fmt_ms(fb2):>10} {fmt_ms(fb3 - fb1):>8} "
            f"{fmt_ms(fw2):>10} {fmt_ms(fw3 - fw1):>8} {fb2 / fw2:7.2f} "
            f"{fb2 / ref_fb:9.3f}"
        )
    paired = [
        g / r for g, r in zip(times["generated/fb"], times["reference/fb"], strict=True)
    ]
    p1, p2, p3 = quartiles(paired)
    ratio = statistics.median(times["generated/fb"]) / ref_fb
    best = min(times["generated/fb"]) / min(times["reference/fb"])
    verdict = "within" if ratio <= TARGET else "OUTSIDE"
    print(
        f"  generated / reference forward_backward: {ratio:.3f}x (ratio of medians) "
        f"-> {verdict} the {TARGET}x target\n"
        f"    cross-checks: per-round paired ratio median {p2:.3f} "
        f"(IQR {p1:.3f}-{p3:.3f}); ratio of fastest calls {best:.3f} "
        f"({fmt_ms(min(times['generated/fb'])).strip()} vs "
        f"{fmt_ms(min(times['reference/fb'])).strip()} ms)"
    )
    return ratio


# ---------------------------------------------------------------------------------------
# per-statement profile


def statements(func: Callable) -> list[tuple[str, object]]:
    """The top-level statements of func's body, compiled one by one (return -> assign)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    body = tree.body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    out = []
    for stmt in body:
        if isinstance(stmt, ast.Return):
            target = ast.Name(id="__return__", ctx=ast.Store())
            assign = ast.Assign(targets=[target], value=stmt.value)
            stmt = ast.copy_location(assign, stmt)
        text = ast.unparse(stmt)
        module = ast.fix_missing_locations(ast.Module(body=[stmt], type_ignores=[]))
        out.append((text, compile(module, f"<{func.__name__}>", "exec")))
    return out


def profile_statements(func: Callable, args: tuple, rounds: int):
    """Median seconds of every statement, run in order in a namespace, over rounds."""
    params = list(inspect.signature(func).parameters)
    stmts = statements(func)
    empty = compile("pass", "<empty>", "exec")
    per_stmt = [[] for _ in stmts]
    overhead = []
    clock = time.perf_counter
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            ns = dict(func.__globals__)
            ns.update(zip(params, args, strict=False))
            if "dloss" in params and "dloss" not in ns:
                ns["dloss"] = 1.0
            t0 = clock()
            exec(empty, ns)
            overhead.append(clock() - t0)
            for i, (_, code) in enumerate(stmts):
                t0 = clock()
                exec(code, ns)
                per_stmt[i].append(clock() - t0)
    finally:
        gc.enable()
    return [
        (text, statistics.median(ts))
        for (text, _), ts in zip(stmts, per_stmt, strict=True)
    ], statistics.median(overhead)


def print_profile(title: str, func: Callable, args: tuple, rounds: int) -> None:
    rows, overhead = profile_statements(func, args, rounds)
    total = sum(t for _, t in rows)
    print(f"\n  {title}: {len(rows)} statements, sum of medians {total * 1e6:.1f} us")
    print(f"  (exec overhead per statement ~{overhead * 1e6:.2f} us, not subtracted)")
    for text, t in rows:
        line = text.replace("\n", " ")
        if len(line) > 76:
            line = line[:73] + "..."
        print(f"  {t * 1e6:9.1f} us {t / total:6.1%}  {line}")


# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# weight-gradient layout (issue #12, target 4)

#: every weight gradient ``A.T @ G`` of the two cases, by its operand shapes
WEIGHT_GRADIENTS = (
    ("svm_loss_batched dW = X.T @ dscores", (500, 3073), (500, 10)),
    ("two_layer_net dW1 = X.T @ dt1", (128, 784), (128, 100)),
    ("two_layer_net dW2 = hidden.T @ dt3", (128, 100), (128, 10)),
)


def compare_layouts(rounds: int, budget: float, min_rounds: int) -> None:
    """``A.T @ G`` (the generated line) against ``(G.T @ A).T`` (the same product,
    computed as a wide matrix and returned as its transposed view), interleaved."""
    print(
        "\nweight-gradient layout: A.T @ G (generated) against (G.T @ A).T, "
        "same values, interleaved; medians"
    )
    rng = np.random.default_rng(ARGS.seed)
    for k, (name, a_shape, g_shape) in enumerate(WEIGHT_GRADIENTS):
        a, g = rng.standard_normal(a_shape), rng.standard_normal(g_shape)
        np.testing.assert_allclose(a.T @ g, (g.T @ a).T, rtol=1e-12, atol=1e-12)
        funcs = {
            "A.T @ G": lambda a=a, g=g: a.T @ g,
            "(G.T @ A).T": lambda a=a, g=g: (g.T @ a).T,
        }
        times = time_interleaved(funcs, rounds, budget / 4, min_rounds, ARGS.seed + k)
        plain, wide = (statistics.median(times[key]) for key in funcs)
        print(
            f"  {name:<36} A.T @ G {fmt_ms(plain).strip()} ms, (G.T @ A).T "
            f"{fmt_ms(wide).strip()} ms: {wide / plain:.2f}x"
        )


def main() -> int:
    wall = time.perf_counter()
    limiter = None
    if ARGS.threads is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            print("--threads needs threadpoolctl (pip install threadpoolctl)")
            return 2
        limiter = threadpool_limits(limits=ARGS.threads, user_api="blas")
    print_header(limiter)
    threads = blas_threads() if ARGS.threads is None else ARGS.threads

    rounds, budget, min_rounds = (60, 3.0, 20) if ARGS.quick else (1000, 30.0, 200)
    profile_rounds = 50 if ARGS.quick else 300

    print("\nchecking the reference against the generated modules")
    cases = make_cases(ARGS.seed)
    for case in cases:
        verify(case)
        case.impls = [
            Impl(
                "generated",
                lambda m=case.module, a=case.args: m.forward_backward(*a),
                lambda m=case.module, a=case.args: m.forward(*a),
            ),
            Impl(
                "reference",
                lambda f=case.ref_fb, a=case.args: f(*a),
                lambda f=case.ref_fwd, a=case.args: f(*a),
            ),
        ]

    print("\noptional frameworks (checked against the reference before timing)")
    if ARGS.no_frameworks:
        print("  skipped (--no-frameworks)")
    else:
        add_torch(cases, threads)
        add_jax(cases, threads)
        add_autograd(cases)

    print(
        f"\ntiming: up to {rounds} rounds or {budget:.0f} s per case (at least "
        f"{min_rounds} rounds); median and interquartile range, milliseconds per call"
    )
    ratios = {}
    for k, case in enumerate(cases):
        funcs = {}
        for impl in case.impls:
            funcs[f"{impl.name}/fb"] = impl.forward_backward
            funcs[f"{impl.name}/fwd"] = impl.forward
        times = time_interleaved(funcs, rounds, budget, min_rounds, ARGS.seed + k)
        ratios[case.name] = report_case(case, times)

    slow = [c for c in cases if ratios[c.name] > TARGET]
    if slow or ARGS.profile:
        print(
            f"\nper-statement profile of forward_backward ({profile_rounds} rounds, "
            "every top-level statement timed on its own, in order, in one namespace)"
        )
        for case in cases if ARGS.profile else slow:
            print(f"\n{case.name}: generated / reference = {ratios[case.name]:.3f}x")
            print_profile(
                f"generated/{case.name}.py",
                case.module.forward_backward,
                case.args,
                profile_rounds,
            )
            print_profile(
                f"reference.{case.ref_fb.__name__}",
                case.ref_fb,
                case.args,
                profile_rounds,
            )

    compare_layouts(rounds, budget, min_rounds)

    print(
        f"\nsummary (targets: generated forward_backward within {TARGET}x of reference, "
        f"issue #3; within {TARGET_12}x, issue #12)"
    )
    for name, ratio in ratios.items():
        verdict = "ok" if ratio <= TARGET_12 else "SLOWER"
        if TARGET_12 < ratio <= TARGET:
            verdict = f"ok for {TARGET}x only"
        print(f"  {name:<17} {ratio:.3f}x  {verdict}")
    print(f"total wall time {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
