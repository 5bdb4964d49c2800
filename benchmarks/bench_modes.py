"""Cost of the modes of differentiation (issue #9, "Cost"): run from the repository root.

    python benchmarks/bench_modes.py           # default run, a few minutes
    python benchmarks/bench_modes.py --quick   # smaller, fewer repeats (< 1 minute)

1. Operation counts per generated function against ``forward`` (``count_ops`` over the
   statements each function runs, +1 per accumulation), on random DAGs of 1,000 and
   10,000 operations and the lecture's two-layer net (wrt its weights): targets
   ``jvp`` <= 3x and ``hvp`` <= 5x (the cheap-gradient bounds).
2. Generating an HVP module of the 10,000-op DAG (parse through render, formatting
   excluded): target < 10 s.
3. Per call, medians of interleaved rounds: the generated ``jvp`` and ``hvp`` against
   the same computation by JAX (``jax.jvp``; forward over reverse
   ``jax.jvp(jax.grad(f))``, jitted, compile time apart) and PyTorch (forward-mode
   ``torch.func.jvp``; double backward for H·v), on the two-layer net (N=128, D=784,
   H=100, C=10) and on the 1,000-op DAG (math backend on floats for the generated
   code). Peers are optional: a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from bench_scalar import random_dag  # noqa: E402

from codegen.evaluate import load_module  # noqa: E402
from codegen.generate import (  # noqa: E402
    Options,
    _no_cycle_collection,
    compile_source,
    render_unformatted,
)
from codegen.ir import Stmt, count_ops  # noqa: E402

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
    for label, source, opts in cases:
        opts = Options(backend=opts.backend, wrt=opts.wrt, mode=("grad", "jvp", "hvp"))
        counts = function_ops(compile_source(source, opts, "<bench>"))
        fwd = counts["forward"]
        out(
            f"{label:<14} {fwd:>8,} {counts['forward_backward']:>8,} "
            f"{counts['jvp']:>8,} {counts['hvp']:>8,}   "
            f"{counts['forward_backward'] / fwd:>8.2f} {counts['jvp'] / fwd:>8.2f} "
            f"{counts['hvp'] / fwd:>8.2f}"
        )
    out("(targets: jvp/fwd <= 3, hvp/fwd <= 5; hvp includes the gradient it returns)")
    out()
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


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            start = time.perf_counter()
            fns[name]()
            samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in samples.items()}


def _two_layer_data(rng: np.random.Generator):
    n, d, h, c = 128, 784, 100, 10
    return {
        "X": rng.standard_normal((n, d)),
        "W1": rng.standard_normal((d, h)) * 0.01,
        "b1": np.zeros(h),
        "W2": rng.standard_normal((h, c)) * 0.01,
        "b2": np.zeros(c),
        "y": rng.integers(0, c, n),
    }


def section_peers(quick: bool) -> None:
    out("3. Per call: generated jvp / hvp against JAX and PyTorch")
    out("=" * 57)
    rounds = 30 if quick else 200
    rng = np.random.default_rng(0)
    data = _two_layer_data(rng)
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

        def loss(W1, b1, W2, b2):
            hidden = jnp.maximum(0, data["X"] @ W1 + b1)
            scores = hidden @ W2 + b2
            lse = jax.nn.logsumexp(scores, axis=1)
            return jnp.mean(lse - scores[jnp.arange(scores.shape[0]), data["y"]])

        params = tuple(jnp.asarray(data[n]) for n in TWO_LAYER_WRT)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    section_counts(args.quick)
    section_generation(args.quick)
    section_peers(args.quick)
    out(f"total wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
