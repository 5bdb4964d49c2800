"""Where the time of a wide program goes, stage by stage (issue #12, target 5): a sum of
N distinct inputs, generated with default options, each size in a fresh process, the
sizes interleaved over several rounds; medians.  Run from the repository root:

    python benchmarks/profile_wide.py [ROUNDS [N ...]]    # 5 rounds of 100,000, 200,000

Then the same for CPython alone: compile() of a bare function of N assignments to
distinct names, the part of the format stage (its syntax check) that grows fastest.
"""

from __future__ import annotations

import gc
import importlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def stages(n: int) -> dict[str, float]:
    """Seconds per stage of generating the sum of ``n`` inputs (in this process)."""
    from bench_scalar import wide_sum

    g = importlib.import_module("codegen.generate")  # bpg.generate is the API's
    from codegen.formatting import format_module
    from codegen.linearize import linearize
    from codegen.module import build_view
    from codegen.options import Options
    from codegen.parse import parse
    from codegen.render import render

    source, options = wide_sum(n), Options()
    gc.disable()  # as the CLI generates
    times: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        times[name] = time.perf_counter() - start
        return result

    parsed = timed("parse", lambda: parse(source, "<wide>"))
    flat = timed("linearize", lambda: linearize(parsed, None, None))
    forward = timed("prune", lambda: g.prune(g.stable.norms(flat)))
    compiled = timed(
        "differentiate",
        lambda: g.differentiate(
            forward,
            g.get_backend(options.backend),
            None,
            options.mode,
            options.target,
            options.name,
        ),
    )
    view = timed("build_view", lambda: build_view(compiled, source, "wide"))
    text = timed("render", lambda: render(view))
    timed("format", lambda: format_module(text, options.format))
    timed("compile (in format)", lambda: compile(text, "<m>", "exec"))
    return times


def bare_compile(n: int) -> float:
    text = "def f(a):\n" + "".join(f"    t{i} = a + {i}\n" for i in range(n))
    start = time.perf_counter()
    compile(text + "    return a\n", "<bare>", "exec")
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(stages(int(argv[1]))))
        return 0
    rounds = int(argv[0]) if argv else 5
    sizes = [int(a) for a in argv[1:]] or [100_000, 200_000]
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[n].append(json.loads(out))
    names = list(runs[sizes[0]][0])
    print(f"sum of n distinct inputs, medians of {rounds} interleaved fresh processes")
    print(f"{'stage':22}" + "".join(f"{n:>12,}" for n in sizes) + "   last / first")
    for name in [*names, "total"]:

        def seconds(n: int, name: str = name) -> float:
            if name == "total":
                return statistics.median(
                    sum(v for k, v in r.items() if not k.startswith("compile"))
                    for r in runs[n]
                )
            return statistics.median(r[name] for r in runs[n])

        first, last = seconds(sizes[0]), seconds(sizes[-1])
        print(
            f"{name:22}"
            + "".join(f"{seconds(n):11.2f}s" for n in sizes)
            + f"   {last / first:.2f}x"
        )
    print("(compile (in format): the syntax check's compile() alone, timed again)")
    print("CPython 3 alone: compile() of a function of n assignments to distinct names")
    for n in (50_000, 100_000, 200_000, 400_000):
        print(f"  {n:>9,}  {min(bare_compile(n) for _ in range(3)):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
