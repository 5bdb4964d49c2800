"""The gallery's transformer block (B=8, T=64, 4 heads of 32 so D=128, MLP 4x),
forward_backward in float64 on CPU: the generated numpy module against PyTorch autograd
(one thread and default threads), JAX ``jit(value_and_grad)`` (compile time apart) and
the block by hand in NumPy (benchmarks/transformer_numpy.py).  Run from the repository
root; the process re-runs itself with one BLAS thread and OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE unset (they slow a current OpenBLAS; see the env README):

    python benchmarks/bench_transformer.py [--rounds 40]

Every implementation is checked against the generated module before timing; rounds are
interleaved; medians in ms, ratios to PyTorch with one thread from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"B": 8, "T": 64, "D": 128, "NH": 4, "E": 32, "F": 512}
TARGET = 1.2


def reexec() -> None:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        env.setdefault(
            "XLA_FLAGS",
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        )
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=0,
        help="time only PyTorch with this many threads and print its median in ms "
        "(run as a separate process: torch's spinning worker threads would otherwise "
        "take a core from the one-thread rows)",
    )
    ns = parser.parse_args()
    reexec()
    sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]
    import numpy as np
    import test_transformer as tt
    import torch
    import transformer_numpy

    from codegen.evaluate import load_module

    gen = load_module((ROOT / "generated" / "transformer_block.py").read_text("utf-8"))
    point = tt.inputs(SIZES)
    args = [point[n] for n in gen.INPUTS]
    value, grads = gen.forward_backward(*args)
    t = tt.tensors(point)
    targs, twrt = [t[n] for n in gen.INPUTS], [t[n] for n in tt.WRT]

    def torch_fb():
        return torch.autograd.grad(tt.reference(*targs), twrt)

    default_threads = os.cpu_count() or 1

    def torch_threads(n):
        def run():
            torch.set_num_threads(n)
            return torch_fb()

        return run

    if ns.torch_threads:
        run = torch_threads(ns.torch_threads)
        run()
        samples = []
        for _ in range(ns.rounds):
            start = time.perf_counter()
            run()
            samples.append(time.perf_counter() - start)
        print(f"{statistics.median(samples) * 1e3:.3f}")
        return
    impls = {
        "generated": lambda: gen.forward_backward(*args)[1],
        "by hand": lambda: transformer_numpy.forward_backward(*args)[1],
        "torch 1 thread": torch_threads(1),
    }
    notes = []
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        jfb = jax.jit(jax.grad(jax_block, argnums=(0, *range(2, 15))))
        jargs = [jax.numpy.asarray(a) for a in args]
        start = time.perf_counter()
        jax.block_until_ready(jfb(*jargs))
        notes.append(
            f"jax {jax.__version__}: compile {time.perf_counter() - start:.2f} s"
        )
        impls["jax jit"] = lambda: jax.block_until_ready(jfb(*jargs))
    except ImportError as exc:
        notes.append(f"jax skipped: {exc}")
    for name, fb in impls.items():  # every one agrees with the generated module
        got = [np.asarray(g) for g in fb()]
        err = max(
            float(np.abs(a - b).max() / np.abs(b).max())
            for a, b in zip(got, grads, strict=True)
        )
        assert err < 1e-10, (name, err)
    times: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(ns.rounds):
        for name, fb in impls.items():
            start = time.perf_counter()
            fb()
            times[name].append(time.perf_counter() - start)
    print(f"transformer block {SIZES}, float64, forward_backward, {ns.rounds} rounds")
    print(f"numpy {np.__version__} (OPENBLAS_NUM_THREADS=1), torch {torch.__version__}")
    for note in notes:
        print(note)
    base = statistics.median(times["torch 1 thread"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:16s} {med * 1e3:8.2f} ms   {med / base:5.2f}x torch 1 thread")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--rounds",
            str(ns.rounds),
            "--torch-threads",
            str(default_threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    med = float(child.stdout.split()[-1]) / 1e3
    label = f"torch {default_threads} threads"
    print(
        f"  {label:16s} {med * 1e3:8.2f} ms   {med / base:5.2f}x torch 1 thread"
        "   (its own process)"
    )
    ratio = statistics.median(times["generated"]) / base
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(f"generated / torch 1 thread: {ratio:.2f}x (target {TARGET}x): {verdict}")
    print(f"loss {value:.6f}")


def jax_block(X, mask, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, R):
    """The block in jax.numpy (``mask`` unread: the causal mask from tril)."""
    import jax
    import jax.numpy as jnp

    B, T, D = X.shape

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / jnp.sqrt(
            ((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5
        ) * g + b

    h1 = ln(X, g1, b1)
    q, k, v = (jnp.einsum("btd,dhe->bhte", h1, W) for W in (Wq, Wk, Wv))
    s = q @ jnp.swapaxes(k, -1, -2) / jnp.sqrt(Wq.shape[-1])
    s = jnp.where(jnp.tril(jnp.ones((T, T))) > 0, s, -1e9)
    a = jnp.einsum("bhqk,bhke->bqhe", jax.nn.softmax(s, -1), v)
    x1 = X + jnp.einsum("bqhe,hed->bqd", a, Wo)
    u = ln(x1, g2, b2) @ W1 + c1
    y = x1 + jax.nn.gelu(u, approximate=True) @ W2 + c2
    return (y * R).sum()


if __name__ == "__main__":
    main()
