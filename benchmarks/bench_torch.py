"""Speed of the torch backend, the torch.autograd.Function target and layers (issue #10,
"Speed"): run from the repository root.

    python benchmarks/bench_torch.py           # default run, a few minutes
    python benchmarks/bench_torch.py --quick   # fewer rounds

Per call, medians of interleaved rounds (one call of each per round, shuffled), CPU,
float64, with one thread and with torch's default threads:

- two-layer net (N=128, D=784, H=100, C=10) and batched SVM (N=500, D=3073, C=10):
  value and gradients by PyTorch's own autograd on the same expression (the
  reference), by the generated torch ``Function`` (``apply`` then ``backward``), and by
  the torch backend's ``forward_backward`` (no tape at all); ratios to autograd.
- layers (numpy backend): ``layer_backward(dout, layer_forward(...)[1])`` against the
  flat ``forward_backward`` on the same data: the same statements, plus the cache.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from bench_modes import interleaved, two_layer_data  # noqa: E402

from codegen.evaluate import load_module  # noqa: E402
from codegen.generate import Options, generate  # noqa: E402

EXAMPLES = ROOT / "examples"


def out(line: str = "") -> None:
    print(line, flush=True)


def _data(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if name == "two_layer_net":
        return two_layer_data(rng)
    n, d, c = 500, 3073, 10
    return {
        "X": rng.standard_normal((n, d)),
        "W": rng.standard_normal((d, c)) * 0.001,
        "y": rng.integers(0, c, n),
    }


def _reference(name: str, torch):
    """The same loss written with torch ops, for autograd."""
    if name == "two_layer_net":

        def loss(X, W1, b1, W2, b2, y):
            hidden = torch.relu(X @ W1 + b1)
            scores = hidden @ W2 + b2
            lse = torch.logsumexp(scores, dim=1)
            return (lse - scores[torch.arange(scores.shape[0]), y]).mean()

        return loss

    def svm(X, W, y):
        scores = X @ W
        n = scores.shape[0]
        correct = scores[torch.arange(n), y].reshape(n, 1)
        margins = torch.clamp(scores - correct + 1, min=0)
        mask = torch.arange(scores.shape[1]) == y.reshape(n, 1)
        return torch.where(mask, 0.0, margins).sum() / n

    return svm


def section_torch(threads: int, rounds: int) -> None:
    import torch

    torch.set_num_threads(threads)
    label = (
        f"{threads} thread"
        if threads == 1
        else f"default threads ({torch.get_num_threads()})"
    )
    out(f"torch {torch.__version__}, CPU, float64, {label}, medians of {rounds} rounds")
    for name in ("two_layer_net", "svm_loss_batched"):
        source = (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8")
        flat = load_module(generate(source, Options(backend="torch")), "bench_flat")
        function = load_module(
            generate(source, Options(backend="torch", target="function")), "bench_fn"
        )
        data = _data(name, np.random.default_rng(0))
        tensors = {k: torch.as_tensor(v) for k, v in data.items()}
        order = [tensors[n] for n in flat.INPUTS]
        wrt = set(flat.WRT)
        reference = _reference(name, torch)

        def leaves(flat=flat, order=order, wrt=wrt):
            return [
                t.clone().requires_grad_(n in wrt) if t.is_floating_point() else t
                for n, t in zip(flat.INPUTS, order, strict=True)
            ]

        def autograd_call(reference=reference, leaves=leaves):
            args = leaves()
            loss = reference(*args)
            loss.backward()
            return loss

        def function_call(function=function, leaves=leaves):
            args = leaves()
            loss = function.apply(*args)
            loss.backward()
            return loss

        def flat_call(flat=flat, order=order):
            return flat.forward_backward(*order)

        # all three agree before anything is timed
        want = autograd_call()
        _, grads = flat.forward_backward(*order)
        np.testing.assert_allclose(float(flat.forward(*order)), want.item(), rtol=1e-12)
        args = leaves()
        reference(*args).backward()
        for n, g in zip(flat.WRT, grads, strict=True):
            got = args[flat.INPUTS.index(n)].grad
            np.testing.assert_allclose(g.numpy(), got.numpy(), rtol=1e-9, atol=1e-12)
        medians = interleaved(
            {
                "autograd": autograd_call,
                "generated Function": function_call,
                "torch forward_backward": flat_call,
            },
            rounds,
        )
        base = medians["autograd"]
        parts = ", ".join(
            f"{k} {t * 1e3:.3f} ms ({t / base:.2f}x)" for k, t in medians.items()
        )
        out(f"  {name}: {parts}")


def section_layers(rounds: int) -> None:
    out(f"layers vs flat (numpy backend), medians of {rounds} rounds")
    for name in ("affine_relu", "batchnorm", "two_layer_net"):
        source = (EXAMPLES / f"{name}.bp").read_text(encoding="utf-8")
        flat = load_module(generate(source, Options()), "bench_flat_np")
        layer = load_module(generate(source, Options(target="layer")), "bench_layer")
        rng = np.random.default_rng(1)
        sizes = {"N": 128, "D": 256, "M": 64, "H": 100, "C": 10}
        args = []
        for n in flat.INPUTS:
            shape = tuple(sizes.get(d, d) for d in flat.SHAPES[n])
            if n in getattr(flat, "INTEGERS", {}):
                args.append(rng.integers(0, sizes["C"], shape))
            else:
                args.append(rng.standard_normal(shape))
        value = flat.forward(*args)
        dout = rng.standard_normal(np.shape(value)) if np.ndim(value) else 1.0

        def layer_call(layer=layer, args=args, dout=dout):
            _, cache = layer.layer_forward(*args)
            return layer.layer_backward(dout, cache)

        def flat_call(flat=flat, args=args, dout=dout):
            return flat.forward_backward(*args, dout)

        medians = interleaved(
            {
                "flat forward_backward": flat_call,
                "layer forward + backward": layer_call,
            },
            rounds,
        )
        base = medians["flat forward_backward"]
        parts = ", ".join(
            f"{k} {t * 1e3:.3f} ms ({t / base:.2f}x)" for k, t in medians.items()
        )
        out(f"  {name}: {parts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rounds = 20 if args.quick else 200
    start = time.perf_counter()
    try:
        import torch  # noqa: F401
    except ImportError:
        out("PyTorch is not installed: torch sections skipped (pip install '.[torch]')")
    else:
        default = torch.get_num_threads()
        section_torch(1, rounds)
        section_torch(default, rounds)
    section_layers(rounds)
    out(f"total wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
