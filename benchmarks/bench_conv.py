"""The convnet's forward_backward (generated/convnet.py: CS231n's three-layer convnet,
N=64, 3x32x32 images, 32 filters, 100 hidden units, 10 classes, float64) against the
same network hand-written in NumPy (benchmarks/conv_reference.py, CS231n's im2col
layers) and PyTorch autograd on CPU.  Run from the repository root:

    python benchmarks/bench_conv.py [--rounds 15] [--threads 1]

Interleaved rounds in a shuffled order; medians in ms.  The three agree (checked
before timing).
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

sys.path[:0] = [".", "benchmarks"]

N, C, S, F, HIDDEN, CLASSES = 64, 3, 32, 32, 100, 10


def inputs(rng: np.random.Generator) -> list[np.ndarray]:
    return [
        rng.standard_normal((N, C, S, S)),
        rng.standard_normal((F, C, 3, 3)) * 0.1,
        rng.standard_normal(F) * 0.1,
        rng.standard_normal((F * S * S // 4, HIDDEN)) * 0.01,
        rng.standard_normal(HIDDEN) * 0.1,
        rng.standard_normal((HIDDEN, CLASSES)) * 0.1,
        rng.standard_normal(CLASSES) * 0.1,
        rng.integers(0, CLASSES, N),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=15)
    ns = parser.parse_args()
    if ns.threads is not None and os.environ.get("OMP_NUM_THREADS") != str(ns.threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(ns.threads))
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(ns.threads)
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
    import conv_reference
    import torch

    from generated import convnet

    F_ = torch.nn.functional
    if ns.threads is not None:
        torch.set_num_threads(ns.threads)
    args = inputs(np.random.default_rng(0))
    X, W1, b1, W2, b2, W3, b3, y = args
    leaves = [torch.tensor(a, requires_grad=True) for a in args[:-1]]
    ty = torch.tensor(y)

    def by_torch():
        for leaf in leaves:
            leaf.grad = None
        x, w1, c1, w2, c2, w3, c3 = leaves
        h = F_.max_pool2d(F_.relu(F_.conv2d(x, w1, c1, padding=1)), 2)
        h = F_.relu(h.reshape(N, -1) @ w2 + c2)
        loss = F_.cross_entropy(h @ w3 + c3, ty)
        loss.backward()
        return loss.item(), [leaf.grad.numpy() for leaf in leaves]

    generated = convnet.forward_backward(*args)
    handmade = conv_reference.loss_and_grads(*args)
    torch_loss, torch_grads = by_torch()
    for g, h, t in zip(generated[1], handmade[1], torch_grads, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(generated[0], torch_loss, rtol=1e-12)

    runs = {
        "generated": lambda: convnet.forward_backward(*args),
        "hand-written im2col": lambda: conv_reference.loss_and_grads(*args),
        "PyTorch autograd": by_torch,
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = random.Random(0)
    for _ in range(ns.rounds):
        names = list(runs)
        order.shuffle(names)
        for name in names:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    medians = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    base = medians["hand-written im2col"]
    print(
        f"numpy {np.__version__}, torch {torch.__version__}, N={N} {C}x{S}x{S} F={F}, "
        f"threads={ns.threads}; medians of {ns.rounds} interleaved rounds"
    )
    for name, ms in medians.items():
        print(f"{name:22s} {ms:9.2f} ms   {ms / base:5.2f}x the hand-written")


if __name__ == "__main__":
    main()
