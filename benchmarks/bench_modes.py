"""Cost of the modes of differentiation (issue #9, "Cost"): run from the repository root.

    python benchmarks/bench_modes.py           # default run, a few minutes
    python benchmarks/bench_modes.py --quick   # smaller, fewer repeats (< 1 minute)

1. Operation counts per generated function against ``forward`` (``count_ops`` over the
   statements each function runs, +1 per accumulation), on random DAGs of 1,000 and
   10,000 operations and the lecture's two-layer net (wrt its weights): targets
   ``jvp`` <= 3x and ``hvp`` <= 5x (the cheap-gradient bounds).  Beside them, the same
   counts by peers on the same programs (optional, skipped with a reason if missing):
   CasADi SX (``casadi.gradient``, ``casadi.jtimes``; instructions other than inputs,
   outputs, constants and parameters, after CasADi's own CSE and simplification) and
   JAX (equations of the jaxpr after ``dce_jaxpr``: JAX's dead-code elimination, no
   CSE); and, per primitive of the 1,000-op DAG, our ``hvp`` ops against the hand
   minimum of forward over reverse (value, gradient and H·v).
2. Generating an HVP module of the 10,000-op DAG (parse through render, formatting
   excluded): target < 10 s.
3. Per call, medians of interleaved rounds: the generated ``jvp`` and ``hvp`` against
   the same computation by JAX (``jax.jvp``; forward over reverse
   ``jax.jvp(jax.grad(f))``, jitted, compile time apart) and PyTorch (forward-mode
   ``torch.func.jvp``; double backward for H·v), on the two-layer net (N=128, D=784,
   H=100, C=10), and on scalar programs (the 1,000-op DAG and the lecture's sigmoid
   chain, math backend on Python floats; the peers get scalar float64 arrays/tensors).
   Peers are optional: a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from bench_scalar import jax_lib, random_dag, scalar_function  # noqa: E402

from codegen.evaluate import load_module  # noqa: E402
from codegen.generate import (  # noqa: E402
    Options,
    _no_cycle_collection,
    compile_source,
    render_unformatted,
)
from codegen.ir import Op, Stmt, Var, count_ops  # noqa: E402

TWO_LAYER = (ROOT / "examples" / "two_layer_net.bp").read_text(encoding="utf-8")
TWO_LAYER_WRT = ("W1", "b1", "W2", "b2")


def out(line: str = "") -> None:
    print(line, flush=True)


def ops(stmts: tuple[Stmt, ...] | list[Stmt]) -> int:
    return sum(count_ops(s.expr) + (1 if s.accumulate else 0) for s in stmts)


def function_ops(compiled) -> dict[str, int]:
    return {
        f.name: ops([s for section in f.sections for s in section.stmts])
        for f in compiled.functions
    }


#: The hand minimum of forward over reverse for one interior statement ``t = prim(a, b)``
#: whose operands, adjoint and adjoint tangent are all nonzero: value, tangent,
#: adjoint contributions and their tangents, accumulations not included (they are
#: counted apart: 2 per operand use that is not the operand's first contribution in
#: the reverse sweep), the negation of ``db`` and ``db_dot`` for ``a - b`` and ``a / b``
#: folded into that subtraction when it accumulates (2 more ops when it does not).
#: Near the output the adjoint tangents are zero (the upstream gradient is 1), so a
#: statement there can cost less than this.  "v" is a variable operand,
#: "c" a constant.  Derivations (t_dot is the tangent, dt the adjoint, da_dot ...):
#:   add/sub vv: t, t_dot = a_dot +- b_dot; da = dt, db = +-dt (copies)            2
#:   mul vv: t; t_dot = a_dot*b + a*b_dot (3); da = dt*b, db = dt*a (2);
#:           da_dot = dt_dot*b + dt*b_dot, db_dot = dt_dot*a + dt*a_dot (6)        12
#:   div vv: t; t_dot = (a_dot - t*b_dot)/b (3); da = dt/b; db = -da*t (1, the
#:           sign folded); da_dot = (dt_dot - da*b_dot)/b (3);
#:           db_dot = -(da_dot*t + da*t_dot) (3, the sign folded)                  12
#:   mul/div vc: t, t_dot, da, da_dot: one op each                                  4
#:   add/sub vc: t (tangent and adjoints are copies)                                1
#:   exp: t; t_dot = a_dot*t; da = dt*t; da_dot = dt_dot*t + dt*t_dot (3)           6
#:   log: t; t_dot = a_dot/a; da = dt/a; da_dot = (dt_dot - da*a_dot)/a (3)         6
#:   sqrt: t; r = 0.5/t; t_dot = a_dot*r; da = dt*r; da_dot = (0.5*dt_dot - da*t_dot)/t  8
#:   sin: t; c = cos(a); t_dot = a_dot*c; da = dt*c; da_dot = dt_dot*c - dt*(t*a_dot)  8
#:   tanh: t; s = 1 - t*t (2); t_dot = a_dot*s; da = dt*s; s_dot = -2*(t*t_dot) (2);
#:         da_dot = dt_dot*s + dt*s_dot (3)                                         10
#:   sigmoid: t; u = 1 - t; s = t*u; t_dot = a_dot*s; da = dt*s;
#:            s_dot = t_dot*(u - t) (2); da_dot = dt_dot*s + dt*s_dot (3)            10
HAND_MIN = {
    "add(vv)": 2,
    "sub(vv)": 2,
    "add(vc)": 1,
    "add(cv)": 1,
    "sub(vc)": 1,
    "mul(vv)": 12,
    "div(vv)": 12,
    "mul(vc)": 4,
    "mul(cv)": 4,
    "div(vc)": 4,
    "exp(v)": 6,
    "log(v)": 6,
    "sqrt(v)": 8,
    "sin(v)": 8,
    "tanh(v)": 10,
    "sigmoid(v)": 10,
}


def _pattern(stmt: Stmt) -> str:
    expr = stmt.expr
    if not isinstance(expr, Op):
        return type(expr).__name__
    return (
        f"{expr.prim}({''.join('v' if isinstance(a, Var) else 'c' for a in expr.args)})"
    )


def _root(stmt: Stmt) -> Stmt:
    """The statement a derived one comes from, through tangents and undo blocks."""
    while stmt.origin is not None and stmt.origin.stmt is not None:
        stmt = stmt.origin.stmt
    return stmt


def per_primitive(source: str, opts: Options) -> list[tuple[str, int, float, float]]:
    """(pattern, how many, our hvp ops per statement, hand minimum per statement) for
    each primitive pattern of a scalar program's forward, with the accumulations of
    the adjoints and adjoint tangents each statement's block makes in both figures."""
    opts = Options(backend=opts.backend, wrt=opts.wrt, mode=("grad", "hvp"))
    compiled = compile_source(source, opts, "<bench>")
    by_name = {f.name: f for f in compiled.functions}
    forward = [s for sec in by_name["forward"].sections for s in sec.stmts]
    hvp = [s for sec in by_name["hvp"].sections for s in sec.stmts]
    count: dict[str, int] = {}
    minimum: dict[str, int] = {}
    seen: set[str] = set()
    for stmt in reversed(forward):
        key = _pattern(stmt)
        count[key] = count.get(key, 0) + 1
        minimum[key] = minimum.get(key, 0) + HAND_MIN[key]
        for position, arg in enumerate(names_in_order(stmt)):
            if arg in seen:  # a second contribution: da += ..., da_dot += ...
                minimum[key] += 2
            elif position == 1 and key in ("sub(vv)", "div(vv)"):
                # db = -..., db_dot = -...: no subtraction to fold the sign into
                minimum[key] += 2
            seen.add(arg)
    ours: dict[str, int] = dict.fromkeys(count, 0)
    for stmt in hvp:
        root = _root(stmt)
        if root.origin is None:  # a primal statement, its tangent or its undo block
            ours[_pattern(root)] += ops([stmt])
        else:  # df = 1.0
            assert not ops([stmt]), stmt
    return [
        (k, count[k], ours[k] / count[k], minimum[k] / count[k]) for k in sorted(count)
    ]


def names_in_order(stmt: Stmt) -> list[str]:
    """The variable operands of a statement, with repeats (``a * a`` twice)."""
    expr = stmt.expr
    return (
        [a.name for a in expr.args if isinstance(a, Var)]
        if isinstance(expr, Op)
        else []
    )


def section_per_primitive(source: str, label: str) -> None:
    rows = per_primitive(source, Options(backend="math"))
    out(f"Per primitive, {label}: our hvp ops per statement / the hand minimum")
    out(
        f"  {'primitive':<11} {'count':>6} {'ours':>7} {'minimum':>8} {'ours-min':>9}"
        "   (both with the block's accumulations)"
    )
    total_ours = total_min = 0.0
    for key, n, ours_each, min_each in rows:
        total_ours += n * ours_each
        total_min += n * min_each
        out(
            f"  {key:<11} {n:>6,} {ours_each:>7.2f} {min_each:>8.2f} "
            f"{ours_each - min_each:>+9.2f}"
        )
    fwd = sum(n for _, n, _, _ in rows)
    out(
        f"  {'all':<11} {fwd:>6,} {total_ours / fwd:>7.2f} {total_min / fwd:>8.2f} "
        f"{(total_ours - total_min) / fwd:>+9.2f}"
        f"   (hvp/fwd: ours {total_ours / fwd:.2f}, hand minimum {total_min / fwd:.2f})"
    )
    out()


def casadi_mode_ops(source: str) -> dict[str, int]:
    """CasADi SX operation counts of f, f with its gradient, jvp and hvp (value,
    gradient and H·v in one Function) of a random DAG."""
    import casadi as ca
    from bench_scalar import casadi_graph

    x, y = casadi_graph(source)
    v = ca.SX.sym("v", x.shape[0])
    g = ca.gradient(y, x)
    functions = {
        "forward": ca.Function("f", [x], [y]),
        "forward_backward": ca.Function("fb", [x], [y, g]),
        "jvp": ca.Function("jvp", [x, v], [y, ca.jtimes(y, x, v)]),
        "hvp": ca.Function("hvp", [x, v], [y, g, ca.jtimes(g, x, v)]),
    }
    skip = {ca.OP_INPUT, ca.OP_OUTPUT, ca.OP_CONST, ca.OP_PARAMETER}
    return {
        name: sum(fn.instruction_id(k) not in skip for k in range(fn.n_instructions()))
        for name, fn in functions.items()
    }


def _jaxpr_eqns(jaxpr) -> int:
    """Equations of a jaxpr, counting those of called sub-jaxprs instead of the call."""
    total = 0
    for eqn in jaxpr.eqns:
        inner = [
            getattr(p, "jaxpr", p)
            for p in eqn.params.values()
            if hasattr(p, "eqns") or hasattr(getattr(p, "jaxpr", None), "eqns")
        ]
        total += sum(_jaxpr_eqns(j) for j in inner) if inner else 1
    return total


def jax_mode_ops(f: Callable, args: tuple) -> dict[str, int]:
    """Equations in the jaxprs of f, value_and_grad, jvp and forward over reverse
    (value, gradient, H·v), each after JAX's dead-code elimination."""
    import jax
    from jax._src.interpreters import partial_eval as pe

    argnums = tuple(range(len(args)))
    vg = jax.value_and_grad(f, argnums=argnums)

    def hvp(xs, vs):
        (value, grads), (_, hv) = jax.jvp(vg, xs, vs)
        return value, grads, hv

    functions = {
        "forward": (f, args),
        "forward_backward": (vg, args),
        "jvp": (lambda xs, vs: jax.jvp(f, xs, vs), (args, args)),
        "hvp": (hvp, (args, args)),
    }
    counts = {}
    for name, (fn, a) in functions.items():
        closed = jax.make_jaxpr(fn)(*a)
        jaxpr, _ = pe.dce_jaxpr(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
        counts[name] = _jaxpr_eqns(jaxpr)
    return counts


def section_peer_counts(cases: list[tuple[str, str, Options]], counts) -> None:
    out("The same counts by peers (ratios against each one's own forward; ours beside)")
    have_casadi = importlib.util.find_spec("casadi") is not None
    have_jax = importlib.util.find_spec("jax") is not None
    out(
        f"{'case':<14} {'peer':<7} {'forward':>8} {'fwd+bwd':>8} {'jvp':>8} {'hvp':>8}"
        "   grad/fwd  jvp/fwd  hvp/fwd   ours hvp/fwd"
    )
    for label, source, _ in cases:
        rows = []
        if have_casadi and label.startswith("DAG"):
            rows.append(("CasADi", casadi_mode_ops(source)))
        if have_jax:
            import jax

            jax.config.update("jax_enable_x64", True)
            if label.startswith("DAG"):
                module_inputs = tuple(
                    line.split(":")[0]
                    for line in source.splitlines()
                    if line.endswith(": float")
                )
                f = scalar_function(source, module_inputs, jax_lib())
                args = tuple(1.0 for _ in module_inputs)
            else:
                f, args = _jax_two_layer(two_layer_data(np.random.default_rng(0)))
            rows.append(("JAX", jax_mode_ops(f, args)))
        ours = counts[label]
        for peer, c in rows:
            fwd = c["forward"]
            out(
                f"{label:<14} {peer:<7} {fwd:>8,} {c['forward_backward']:>8,} "
                f"{c['jvp']:>8,} {c['hvp']:>8,}   "
                f"{c['forward_backward'] / fwd:>8.2f} {c['jvp'] / fwd:>8.2f} "
                f"{c['hvp'] / fwd:>8.2f}   {ours['hvp'] / ours['forward']:>12.2f}"
            )
    if not have_casadi:
        out("(CasADi is not installed: skipped; pip install casadi)")
    if not have_jax:
        out("(JAX is not installed: skipped; pip install jax)")
    out(
        "(CasADi: SX instructions other than input/output/constant/parameter, after its"
        " CSE;\n sigmoid is 1/(1+exp(-v)) there, so its forward has more ops than ours."
        " JAX: jaxpr equations\n after dce_jaxpr, no CSE; on the two-layer net they"
        " include broadcasts, reshapes and\n the gather; CasADi is not run on it"
        " (a scalar graph of its 79,510 weights).)"
    )
    out()


def section_counts(quick: bool) -> None:
    out("1. Operation counts per function / forward")
    out("=" * 42)
    cases = [("DAG 1,000", random_dag(1_000, seed=1_000), Options(backend="math"))]
    if not quick:
        cases.append(
            ("DAG 10,000", random_dag(10_000, seed=10_000), Options(backend="math"))
        )
    cases.append(("two-layer net", TWO_LAYER, Options(wrt=TWO_LAYER_WRT)))
    header = f"{'case':<14} {'forward':>8} {'fwd+bwd':>8} {'jvp':>8} {'hvp':>8}"
    out(header + "   grad/fwd  jvp/fwd  hvp/fwd")
    all_counts = {}
    for label, source, opts in cases:
        opts = Options(backend=opts.backend, wrt=opts.wrt, mode=("grad", "jvp", "hvp"))
        counts = function_ops(compile_source(source, opts, "<bench>"))
        all_counts[label] = counts
        fwd = counts["forward"]
        out(
            f"{label:<14} {fwd:>8,} {counts['forward_backward']:>8,} "
            f"{counts['jvp']:>8,} {counts['hvp']:>8,}   "
            f"{counts['forward_backward'] / fwd:>8.2f} {counts['jvp'] / fwd:>8.2f} "
            f"{counts['hvp'] / fwd:>8.2f}"
        )
    out("(targets: jvp/fwd <= 3, hvp/fwd <= 5; hvp includes the gradient it returns)")
    out()
    section_peer_counts(cases, all_counts)
    section_per_primitive(cases[0][1], cases[0][0])
    out("Run time per call / forward (math backend on floats; medians, interleaved):")
    from codegen.generate import generate

    for label, source, _ in cases[:-1]:
        module = load_module(
            generate(source, Options(backend="math", mode=("jvp", "hvp"))), "bench"
        )
        rng = random.Random(1)
        x = [rng.uniform(0.5, 1.5) for _ in module.INPUTS]
        v = [rng.uniform(-1.0, 1.0) for _ in module.INPUTS]
        medians = interleaved(
            {
                "forward": lambda m=module, x=x: m.forward(*x),
                "forward_backward": lambda m=module, x=x: m.forward_backward(*x),
                "jvp": lambda m=module, x=x, v=v: m.jvp(*x, *v),
                "hvp": lambda m=module, x=x, v=v: m.hvp(*x, *v),
            },
            30 if quick else 200,
        )
        base = medians["forward"]
        out(
            f"{label:<14} forward {base * 1e6:8.0f} µs   "
            + "   ".join(
                f"{k} {t / base:.2f}x" for k, t in medians.items() if k != "forward"
            )
        )
    out()


def section_generation(quick: bool) -> None:
    out("2. Generating an HVP module (parse .. render, no formatting)")
    out("=" * 60)
    sizes = [1_000] if quick else [1_000, 10_000]
    for n in sizes:
        source = random_dag(n, seed=n)
        times = []
        for mode in (("grad",), ("grad", "hvp")):
            with _no_cycle_collection():
                start = time.perf_counter()
                render_unformatted(source, Options(backend="math", mode=mode), "<b>")
                times.append(time.perf_counter() - start)
        out(
            f"DAG {n:,}: grad only {times[0]:.2f} s, grad + hvp {times[1]:.2f} s "
            "(target for 10,000 ops: < 10 s)"
        )
    out()


def interleaved(
    fns: dict[str, Callable[[], object]], rounds: int, sample: float = 0.0
) -> dict[str, float]:
    """Median seconds per call of each function, in shuffled interleaved rounds.  With
    ``sample`` > 0 each round times a loop of calls lasting about that long, so a
    microsecond call is timed warm and not right after a big call flushed the caches
    (one call per round measured the sigmoid chain's forward 10x slower than warm)."""
    loops: dict[str, int] = {}
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        loops[name] = max(1, int(sample / max(once, 1e-9))) if sample > 0 else 1
    samples: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            fn, n = fns[name], loops[name]
            start = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - start) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


def two_layer_data(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The two-layer net's arguments (N=128 D=784 H=100 C=10), seeded."""
    n, d, h, c = 128, 784, 100, 10
    return {
        "X": rng.standard_normal((n, d)),
        "W1": rng.standard_normal((d, h)) * 0.01,
        "b1": np.zeros(h),
        "W2": rng.standard_normal((h, c)) * 0.01,
        "b2": np.zeros(c),
        "y": rng.integers(0, c, n),
    }


def _jax_two_layer(data):
    """The two-layer net's loss in JAX, a function of its weights, and the weights."""
    import jax
    import jax.numpy as jnp

    def loss(W1, b1, W2, b2):
        hidden = jnp.maximum(0, data["X"] @ W1 + b1)
        scores = hidden @ W2 + b2
        lse = jax.nn.logsumexp(scores, axis=1)
        return jnp.mean(lse - scores[jnp.arange(scores.shape[0]), data["y"]])

    return loss, tuple(jnp.asarray(data[n]) for n in TWO_LAYER_WRT)


def section_peers(quick: bool) -> None:
    out("3. Per call: generated jvp / hvp against JAX and PyTorch")
    out("=" * 57)
    rounds = 30 if quick else 200
    rng = np.random.default_rng(0)
    data = two_layer_data(rng)
    opts = Options(wrt=TWO_LAYER_WRT, mode=("jvp", "hvp"))
    from codegen.generate import generate

    module = load_module(generate(TWO_LAYER, opts), "bench_two_layer_modes")
    args = [data[n] for n in module.INPUTS]
    vec = [rng.standard_normal(np.shape(data[n])) for n in TWO_LAYER_WRT]
    fns: dict[str, Callable[[], object]] = {
        "generated forward": lambda: module.forward(*args),
        "generated jvp": lambda: module.jvp(*args, *vec),
        "generated hvp": lambda: module.hvp(*args, *vec),
    }
    _, want_hv = module.hvp(*args, *vec)[1:]
    notes: list[str] = []
    if importlib.util.find_spec("jax") is not None:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        loss, params = _jax_two_layer(data)
        tangents = tuple(jnp.asarray(v) for v in vec)
        jvp = jax.jit(lambda p, t: jax.jvp(loss, p, t))
        hvp = jax.jit(lambda p, t: jax.jvp(jax.grad(loss, argnums=(0, 1, 2, 3)), p, t))
        wrapped = jax.jit(lambda *p: loss(*p))
        start = time.perf_counter()
        jax.block_until_ready(hvp(params, tangents))
        jax.block_until_ready(jvp(params, tangents))
        jax.block_until_ready(wrapped(*params))
        notes.append(
            f"JAX {jax.__version__}: compile {time.perf_counter() - start:.2f} s"
        )
        got = hvp(params, tangents)[1]
        for a, b in zip(got, want_hv, strict=True):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-8, atol=1e-10)
        fns["JAX forward (jit)"] = lambda: jax.block_until_ready(wrapped(*params))
        fns["JAX jvp (jit)"] = lambda: jax.block_until_ready(jvp(params, tangents))
        fns["JAX hvp (jit)"] = lambda: jax.block_until_ready(hvp(params, tangents))
    else:
        notes.append("JAX is not installed: skipped (pip install jax)")
    if importlib.util.find_spec("torch") is not None:
        import torch

        x = torch.tensor(data["X"])
        y = torch.tensor(data["y"])

        def tloss(W1, b1, W2, b2):
            hidden = torch.relu(x @ W1 + b1)
            scores = hidden @ W2 + b2
            lse = torch.logsumexp(scores, dim=1)
            return (lse - scores[torch.arange(scores.shape[0]), y]).mean()

        tparams = [torch.tensor(data[n]) for n in TWO_LAYER_WRT]
        tvec = [torch.tensor(v) for v in vec]

        def torch_hvp():
            p = [t.clone().requires_grad_(True) for t in tparams]
            grads = torch.autograd.grad(tloss(*p), p, create_graph=True)
            dot = sum((g * v).sum() for g, v in zip(grads, tvec, strict=True))
            return torch.autograd.grad(dot, p)

        def torch_jvp():
            return torch.func.jvp(tloss, tuple(tparams), tuple(tvec))

        for a, b in zip(torch_hvp(), want_hv, strict=True):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-8, atol=1e-10)
        notes.append(f"PyTorch {torch.__version__}")
        fns["torch forward"] = lambda: tloss(*tparams)
        fns["torch jvp (torch.func)"] = torch_jvp
        fns["torch hvp (double backward)"] = torch_hvp
    else:
        notes.append("PyTorch is not installed: skipped (pip install '.[torch]')")
    medians = interleaved(fns, rounds)
    base = medians["generated hvp"]
    out(
        f"two-layer net, N=128 D=784 H=100 C=10, medians of {rounds} interleaved rounds:"
    )
    for name, t in medians.items():
        out(f"  {name:<30} {t * 1e3:8.3f} ms   {t / base:6.2f}x generated hvp")
    for note in notes:
        out(f"  ({note})")
    out()


def _ready(fn: Callable, *args: object) -> object:
    import jax

    return jax.block_until_ready(fn(*args))


SIGMOID_CHAIN = (ROOT / "examples" / "sigmoid_chain.bp").read_text(encoding="utf-8")


def section_peers_scalar(quick: bool, jax_dag_hvp: bool) -> None:
    """Per call on scalar programs: the generated math-backend module on Python floats
    against JAX (jit, scalar float64 arrays) and PyTorch (scalar float64 tensors)."""
    from codegen.generate import generate

    rounds = 30 if quick else 200
    # XLA takes minutes to compile jvp(grad) of the 1,000-op scalar DAG (544 s once on
    # this 2-core machine), so that one runs only on request
    programs = [
        ("DAG 1,000", random_dag(1_000, seed=1_000), jax_dag_hvp),
        ("sigmoid chain", SIGMOID_CHAIN, True),
    ]
    have_jax = importlib.util.find_spec("jax") is not None
    have_torch = importlib.util.find_spec("torch") is not None
    for label, source, with_jax_hvp in programs:
        module = load_module(
            generate(source, Options(backend="math", mode=("jvp", "hvp"))),
            "bench_scalar_modes",
        )
        rng = random.Random(1)
        x = [rng.uniform(0.5, 1.5) for _ in module.INPUTS]
        v = [rng.uniform(-1.0, 1.0) for _ in module.INPUTS]
        want_hv = module.hvp(*x, *v)[2]
        fns: dict[str, Callable[[], object]] = {
            "generated forward": lambda m=module, x=x: m.forward(*x),
            "generated jvp": lambda m=module, x=x, v=v: m.jvp(*x, *v),
            "generated hvp": lambda m=module, x=x, v=v: m.hvp(*x, *v),
        }
        notes: list[str] = []
        if have_jax:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            f = scalar_function(source, module.INPUTS, jax_lib())
            argnums = tuple(range(len(x)))
            jx = tuple(jnp.asarray(a, dtype=jnp.float64) for a in x)
            jv = tuple(jnp.asarray(a, dtype=jnp.float64) for a in v)
            wrapped = jax.jit(f)
            jvp = jax.jit(lambda p, t, f=f: jax.jvp(f, p, t))
            hvp = jax.jit(
                lambda p, t, f=f, n=argnums: jax.jvp(jax.grad(f, argnums=n), p, t)
            )
            start = time.perf_counter()
            if with_jax_hvp:
                got = jax.block_until_ready(hvp(jx, jv))[1]
                np.testing.assert_allclose(
                    np.asarray(got), want_hv, rtol=1e-8, atol=1e-10
                )
            jax.block_until_ready(jvp(jx, jv))
            jax.block_until_ready(wrapped(*jx))
            notes.append(f"JAX compile {time.perf_counter() - start:.2f} s")
            if not with_jax_hvp:
                notes.append(
                    "JAX hvp not run: XLA compiles it for minutes (544 s once here);"
                    " --jax-dag-hvp runs it"
                )
            fns["JAX forward (jit)"] = partial(_ready, wrapped, *jx)
            fns["JAX jvp (jit)"] = partial(_ready, jvp, jx, jv)
            if with_jax_hvp:
                fns["JAX hvp (jit)"] = partial(_ready, hvp, jx, jv)
        if have_torch:
            import torch

            lib = {
                "exp": torch.exp,
                "log": torch.log,
                "sqrt": torch.sqrt,
                "sin": torch.sin,
                "tanh": torch.tanh,
                "sigmoid": torch.sigmoid,
            }
            tf = scalar_function(source, module.INPUTS, lib)
            tx = tuple(torch.tensor(a, dtype=torch.float64) for a in x)
            tv = tuple(torch.tensor(a, dtype=torch.float64) for a in v)

            def torch_hvp(tf=tf, tx=tx, tv=tv):
                p = [t.clone().requires_grad_(True) for t in tx]
                grads = torch.autograd.grad(tf(*p), p, create_graph=True)
                dot = sum(g * w for g, w in zip(grads, tv, strict=True))
                return torch.autograd.grad(dot, p)

            got = [float(t) for t in torch_hvp()]
            np.testing.assert_allclose(got, want_hv, rtol=1e-8, atol=1e-10)
            fns["torch forward"] = lambda tf=tf, tx=tx: tf(*tx)
            fns["torch jvp (torch.func)"] = partial(torch.func.jvp, tf, tx, tv)
            fns["torch hvp (double backward)"] = torch_hvp
        if not have_jax:
            notes.append("JAX is not installed: skipped (pip install jax)")
        if not have_torch:
            notes.append("PyTorch is not installed: skipped (pip install '.[torch]')")
        medians = interleaved(fns, rounds, sample=2e-3)
        base = medians["generated hvp"]
        inputs = len(module.INPUTS)
        out(
            f"{label} ({inputs} scalar input{'s' if inputs > 1 else ''}; math backend on"
            f" floats), medians of {rounds} interleaved rounds, each a loop of calls"
            " lasting about 2 ms:"
        )
        for name, t in medians.items():
            out(f"  {name:<30} {t * 1e6:9.1f} µs   {t / base:6.2f}x generated hvp")
        for note in notes:
            out(f"  ({note})")
        out()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--jax-dag-hvp",
        action="store_true",
        help="also time JAX's hvp of the 1,000-op DAG (XLA compiles it for minutes)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    section_counts(args.quick)
    section_generation(args.quick)
    section_peers(args.quick)
    section_peers_scalar(args.quick, args.jax_dag_hvp)
    out(f"total wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
