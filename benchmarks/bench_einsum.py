"""np.einsum's ``optimize=`` for the einsums the generator prints: run from the
repository root.

    python benchmarks/bench_einsum.py            # default threads
    python benchmarks/bench_einsum.py --threads 1

Attention-sized operands (B=8, T=64, H=4, E=32), float64, seeded: the scores
``bqhe,bkhe->bhqk``, the weighted values ``bhqk,bkhe->bqhe`` and their gradients'
einsums, then 3-operand cases.  Each spec is timed with ``optimize=False``, ``True``
(``"greedy"``) and ``"optimal"``, in interleaved rounds (shuffled each round); medians in ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

B, T, H, E = 8, 64, 4, 32
SIZES = {"b": B, "q": T, "k": T, "h": H, "e": E, "d": 4 * E, "f": E, "n": 256}

CASES = [
    "bqhe,bkhe->bhqk",  # attention scores
    "bhqk,bkhe->bqhe",  # weighted values (and the scores' dQ)
    "bhqk,bqhe->bkhe",  # dK of the scores, dV of the weighted values
    "bqhe,bkhe->bhqk",  # dP of the weighted values: same as the scores
    "bqe,ef,bkf->bqk",  # bilinear scores, 3 operands
    "nd,de,ef->nf",  # a 3-matrix chain
    "bqk,bkf,fe->bqe",  # 3 operands with a weight
]

OPTIONS = {"False": False, "True": True, "optimal": "optimal"}


def operands(spec: str, rng: np.random.Generator) -> list[np.ndarray]:
    inputs = spec.split("->")[0].split(",")
    return [rng.standard_normal([SIZES[c] for c in sub]) for sub in inputs]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=30)
    ns = parser.parse_args()
    if ns.threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(
        ns.threads
    ):
        # BLAS reads its thread count when numpy loads: run again with it set
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(ns.threads))
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(ns.threads)
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
    rng = np.random.default_rng(0)
    order = random.Random(0)
    print(f"numpy {np.__version__}, B={B} T={T} H={H} E={E}, threads={ns.threads}")
    for spec in dict.fromkeys(CASES):
        ops = operands(spec, rng)
        ref = np.einsum(spec, *ops, optimize=False)
        times: dict[str, list[float]] = {k: [] for k in OPTIONS}
        for _ in range(ns.rounds):
            names = list(OPTIONS)
            order.shuffle(names)  # interleaved, in a shuffled order each round
            for name in names:
                opt = OPTIONS[name]
                start = time.perf_counter()
                got = np.einsum(spec, *ops, optimize=opt)
                times[name].append(time.perf_counter() - start)
                assert np.allclose(got, ref)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        row = "  ".join(f"{k}={v:8.3f} ms" for k, v in med.items())
        print(f"{spec:18s} {row}  False/True={med['False'] / med['True']:.1f}x")


if __name__ == "__main__":
    main()
