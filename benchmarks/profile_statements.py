"""Where a numpy batch call spends its time: the 1,000-op DAG's forward_backward (the
module target 3 of issue #12 times) run one statement at a time on N points, the time
grouped by what each statement computes.  Run from the repository root:

    python benchmarks/profile_statements.py [N]     # N points, 16,384 by default

Each statement is compiled on its own and timed around its execution (a few rounds; the
first warms the allocator), so the total is a little above one call's; read the shares.
"""

from __future__ import annotations

import ast
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from bench_calls import INPUT_BOX, _view, pipeline_compile  # noqa: E402
from bench_scalar import random_dag  # noqa: E402

from codegen.evaluate import load_module  # noqa: E402
from codegen.render import render  # noqa: E402

ROUNDS = 5  # the first two warm up; the rest are averaged


def kind(stmt: ast.stmt) -> str:
    """What a statement computes: the function it calls, ``dv * np.cos(v)``, an
    operator with its operands (a = array, c = constant), or its node type."""
    if not isinstance(stmt, ast.Assign):
        return type(stmt).__name__
    value = stmt.value
    if isinstance(value, ast.Call):
        return ast.unparse(value.func)
    if isinstance(value, ast.BinOp):
        if "np.cos(" in ast.unparse(value):
            return "dv * np.cos(v)"
        sides = "".join(
            "c" if isinstance(side, ast.Constant) else "a"
            for side in (value.left, value.right)
        )
        nested = any(
            isinstance(side, ast.BinOp | ast.Call | ast.UnaryOp)
            for side in (value.left, value.right)
        )
        return f"{sides[0]} {type(value.op).__name__} {sides[1]}" + (
            " (nested)" if nested else ""
        )
    if isinstance(value, ast.UnaryOp):
        return type(value.op).__name__
    if isinstance(value, ast.Name):
        return "copy"
    return type(value).__name__


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 16_384
    source = random_dag(1_000, seed=1_000)
    text = render(_view(pipeline_compile(source, "numpy"), source))
    module = load_module(text, "profile_dag")
    tree = ast.parse(text)
    function = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "forward_backward"
    )
    params = [a.arg for a in function.args.args]
    points = np.random.default_rng(7).uniform(*INPUT_BOX, size=(len(params) - 1, n))
    namespace = dict(vars(module))
    namespace.update(zip(params, [*points, 1.0], strict=True))
    statements = [
        (kind(s), compile(ast.Module([s], []), "<statement>", "exec"), ast.unparse(s))
        for s in function.body
        if not isinstance(s, ast.Return | ast.Expr)
    ]
    spent: collections.Counter[str] = collections.Counter()
    count = collections.Counter(k for k, _, _ in statements)
    example = {}
    for k, _, line in statements:
        example.setdefault(k, line.splitlines()[0])
    for round_ in range(ROUNDS):
        for k, code, _ in statements:
            start = time.perf_counter()
            exec(code, namespace)  # noqa: S102 - the module's own generated statements
            if round_ >= 2:
                spent[k] += (time.perf_counter() - start) / (ROUNDS - 2)
    total = sum(spent.values())
    print(
        f"forward_backward of the 1,000-op DAG on {n:,} points: {len(statements):,} "
        f"statements, {total * 1e3:.1f} ms = {total / n * 1e6:.2f} us a point"
    )
    print(
        f"{'statement kind':24} {'count':>5} {'us/point':>8} {'share':>6} {'ns/elt':>7}"
    )
    for k, t in spent.most_common():
        print(
            f"{k:24} {count[k]:5d} {t / n * 1e6:8.3f} {100 * t / total:5.1f}% "
            f"{t / count[k] / n * 1e9:7.2f}  e.g. {example[k][:60]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
