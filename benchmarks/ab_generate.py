"""Generation time of two trees side by side (parse .. render, formatting excluded):

    python benchmarks/ab_generate.py OLD_TREE NEW_TREE [--sizes 10000 100000] [--runs 3]

OLD_TREE and NEW_TREE are checkouts of backpropgen (``git worktree add /tmp/old
8e1b0d5``).  Each run generates ``bench_scalar.random_dag(n, seed=n)`` with the default
options in a fresh process (``render_unformatted``, the cyclic GC paused as the CLI
does), alternating old and new; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_scalar import random_dag  # noqa: E402

TIMER = """
import sys, time
sys.path.insert(0, sys.argv[1])
sys.setrecursionlimit(10000)
from codegen.generate import Options, render_unformatted, _no_cycle_collection
src = open(sys.argv[2]).read()
with _no_cycle_collection():
    start = time.perf_counter()
    render_unformatted(src, Options(), "<bench>")
print(time.perf_counter() - start)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            path = Path(folder) / f"dag{n}.bp"
            path.write_text(random_dag(n, seed=n), encoding="utf-8")
            times: dict[str, list[float]] = {"old": [], "new": []}
            for _ in range(args.runs):
                for label, tree in (("old", args.old), ("new", args.new)):
                    done = subprocess.run(
                        [sys.executable, "-c", TIMER, tree, str(path)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    times[label].append(float(done.stdout))
            old, new = (statistics.median(times[k]) for k in ("old", "new"))
            runs = ", ".join(
                f"{a:.2f}/{b:.2f}"
                for a, b in zip(times["old"], times["new"], strict=True)
            )
            print(
                f"DAG {n:,}: old {old:.3f} s, new {new:.3f} s, new/old {new / old:.3f} "
                f"(medians of {args.runs}; runs old/new: {runs})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
