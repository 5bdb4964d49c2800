"""Speed of the scalar generator (issue #2, "Speed"): run from the repository root.

    python benchmarks/bench_scalar.py            # default run, a few minutes
    python benchmarks/bench_scalar.py --quick    # smaller sizes and fewer repeats (<1 min)
    python benchmarks/bench_scalar.py --full     # adds black at 100,000 ops and the slow
                                                 # end-to-end CLI cases

All figures come from one run on one machine (2 shared cores): times are medians over the
repeats shown, and the ratios are taken within the run, so they are the figures to compare.

Sections:
1. the lecture examples: generation time per stage;
2. seeded random expression DAGs (one primitive per statement, fan-out, shared values):
   stage times, op counts of forward vs forward_backward (the cheap-gradient ratio),
   run time of forward_backward / forward, and that the module compiles and imports;
3. one single-line expression of 100,000 terms, end to end;
4. the batch case: one NumPy call on 100,000 points vs a Python loop over the points;
5. the CLI end to end (subprocess, default options), and a million-term expression that
   must fail fast with exit status 2;
6. CasADi's cheap-gradient ratio on the same DAGs (optional: ``pip install casadi``).
"""

from __future__ import annotations

import argparse
import ast
import gc
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from codegen.backends import get_backend  # noqa: E402
from codegen.evaluate import load_module  # noqa: E402
from codegen.formatting import (  # noqa: E402
    check_syntax,
    format_black,
    format_fast,
)
from codegen.generate import (  # noqa: E402
    Compiled,
    Options,
    _no_cycle_collection,  # noqa: E402
    differentiate,
)
from codegen.ir import Op, Program, count_ops  # noqa: E402
from codegen.linearize import linearize  # noqa: E402
from codegen.liveness import prune  # noqa: E402
from codegen.module import build_view  # noqa: E402
from codegen.parse import parse  # noqa: E402
from codegen.render import render  # noqa: E402

LECTURE_ADD_MUL = "x + y*z"
SIGMOID_CHAIN = ROOT / "examples" / "sigmoid_chain.bp"
TARGET_RATIO = 3.0
CASADI_RATIO = 2.75

# --------------------------------------------------------------------------------------
# reporting helpers


def out(line: str = "") -> None:
    print(line, flush=True)


def heading(title: str) -> None:
    out()
    out(title)
    out("=" * len(title))


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(str(cell)) for cell in col) for col in zip(header, *rows, strict=True)
    ]
    line = "  ".join(
        f"{h:>{w}}" if i else f"{h:<{w}}"
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    out(line)
    out("  ".join("-" * w for w in widths))
    for row in rows:
        out(
            "  ".join(
                f"{c:>{w}}" if i else f"{c:<{w}}"
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeats`` calls, and its last result.

    The cyclic collector is paused during each call, as ``codegen.generate`` pauses
    it while generating."""
    times: list[float] = []
    result: object = None
    for _ in range(repeats):
        gc.collect()
        with _no_cycle_collection():
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times), result


# --------------------------------------------------------------------------------------
# workloads


@dataclass
class _Interval:
    lo: float
    hi: float


BOUND = 1e4  # keep every value's range inside [-BOUND, BOUND] over the input box
SAFE = 0.1  # log / sqrt arguments and divisors stay at least this far from zero
INPUT_BOX = (0.5, 1.5)


def _mul_iv(a: _Interval, b: _Interval) -> _Interval:
    p = (a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
    return _Interval(min(p), max(p))


def _apply_iv(prim: str, a: _Interval, b: _Interval | None) -> _Interval | None:
    """The range of ``prim`` over argument ranges, or None where it is not safe."""
    if prim == "+":
        return _Interval(a.lo + b.lo, a.hi + b.hi)
    if prim == "-":
        return _Interval(a.lo - b.hi, a.hi - b.lo)
    if prim == "*":
        return _mul_iv(a, b)
    if prim == "/":
        if not (b.lo >= SAFE or b.hi <= -SAFE):
            return None
        return _mul_iv(a, _Interval(1 / b.hi, 1 / b.lo))
    if prim == "exp":
        return _Interval(math.exp(a.lo), math.exp(a.hi)) if a.hi < 8 else None
    if prim == "log":
        return _Interval(math.log(a.lo), math.log(a.hi)) if a.lo >= SAFE else None
    if prim == "sqrt":
        return _Interval(math.sqrt(a.lo), math.sqrt(a.hi)) if a.lo >= SAFE else None
    if prim == "sin":
        return _Interval(-1.0, 1.0)
    if prim == "tanh":
        return _Interval(math.tanh(a.lo), math.tanh(a.hi))
    if prim == "sigmoid":

        def s(v: float) -> float:
            return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))

        return _Interval(s(a.lo), s(a.hi))
    raise AssertionError(prim)


BINARY = ("+", "-", "*", "/")
UNARY = ("exp", "sin", "tanh", "sigmoid", "sqrt", "log")
CONSTANTS = ("0.5", "2", "3", "1.5", "0.25")


def random_dag(n_ops: int, seed: int = 0, n_inputs: int | None = None) -> str:
    """A seeded program of ``n_ops`` statements, each one primitive over earlier values.

    Every value is used at least once (the oldest unused value is the first operand),
    the second operand is drawn from all earlier values (fan-out, shared
    subexpressions), and interval arithmetic over the input box [0.5, 1.5] keeps every
    value finite and every log/sqrt argument and divisor at least 0.1 away from zero, so
    the program is safe at *every* point of the box (the batch case relies on it).
    About 60% binary operations (+ - * /), 40% functions, some literal operands.
    """
    rng = random.Random(seed)
    if n_inputs is None:
        n_inputs = max(8, min(300, n_ops // 300))
    names: list[str] = [f"x{i}" for i in range(n_inputs)]
    ranges: list[_Interval] = [_Interval(*INPUT_BOX) for _ in names]
    unused: deque[int] = deque(range(n_inputs))
    lines = [f"{name}: float" for name in names]  # fix the input order
    k = 0
    while k < n_ops:
        remaining = n_ops - k
        if remaining <= len(unused) - 1 and len(unused) >= 2:
            # close off: fold the remaining unused values into the output
            i, j = unused.popleft(), unused.popleft()
            prim, b_text, b_iv = "+", names[j], ranges[j]
            a_text, a_iv = names[i], ranges[i]
            iv = _apply_iv(prim, a_iv, b_iv)
            assert iv is not None
        else:
            if unused:
                i = unused.popleft()
            else:
                i = max(0, len(names) - 1 - rng.randrange(16))
            iv = None
            for _ in range(50):
                a_text, a_iv = names[i], ranges[i]
                if rng.random() < 0.6:
                    prim = rng.choice(BINARY)
                    if rng.random() < 0.1:
                        b_text = rng.choice(CONSTANTS)
                        b_iv = _Interval(float(b_text), float(b_text))
                    else:
                        # half local, half anywhere: fan-out across the whole program
                        if rng.random() < 0.5:
                            j = max(0, len(names) - 1 - rng.randrange(32))
                        else:
                            j = rng.randrange(len(names))
                        b_text, b_iv = names[j], ranges[j]
                    if rng.random() < 0.5 and prim in "+*":
                        a_text, b_text = b_text, a_text
                        a_iv, b_iv = b_iv, a_iv
                else:
                    prim, b_text, b_iv = rng.choice(UNARY), None, None
                iv = _apply_iv(prim, a_iv, b_iv)
                if iv is not None and -BOUND <= iv.lo <= iv.hi <= BOUND:
                    break
                iv = None
            if iv is None:  # always safe and bounded
                a_text, a_iv = names[i], ranges[i]
                prim, b_text, b_iv = "tanh", None, None
                iv = _apply_iv(prim, a_iv, None)
        target = f"v{k}"
        if b_text is None:
            lines.append(f"{target} = {prim}({a_text})")
        else:
            lines.append(f"{target} = {a_text} {prim} {b_text}")
        names.append(target)
        ranges.append(iv)
        unused.append(len(names) - 1)
        k += 1
    return "\n".join(lines) + "\n"


def long_expression(n_terms: int, seed: int = 1, n_vars: int = 300) -> str:
    """One line: a sum of ``n_terms`` terms over ``n_vars`` variables (products,
    functions and scaled products), e.g. ``x3*x17 + sin(x5) - 0.5*x2*x9 + ...``."""
    rng = random.Random(seed)
    parts: list[str] = []
    for k in range(n_terms):
        a, b = rng.randrange(n_vars), rng.randrange(n_vars)
        kind = rng.randrange(6)
        if kind == 0:
            term = f"x{a}*x{b}"
        elif kind == 1:
            term = f"{rng.choice(('sin', 'tanh', 'exp', 'sigmoid'))}(x{a})"
        elif kind == 2:
            term = f"0.5*x{a}*x{b}"
        elif kind == 3:
            term = f"x{a}*{rng.choice(('sin', 'tanh', 'sigmoid'))}(x{b})"
        elif kind == 4:
            term = f"x{a}/(1 + x{b}*x{b})"
        else:
            term = f"sqrt(x{a}*x{b})"
        if k == 0:
            parts.append(term)
        else:
            parts.append(f" {'+' if rng.random() < 0.7 else '-'} {term}")
    return "".join(parts)


# --------------------------------------------------------------------------------------
# the pipeline, stage by stage (what codegen.generate.generate does, timed)


def wide_sum(n_inputs: int) -> str:
    """``x0 + x1 + ... + x{n-1}``: a program as wide as it is long."""
    return " + ".join(f"x{i}" for i in range(n_inputs)) + "\n"


def reverse_program(
    forward: Program, wrt: tuple[str, ...] | None, backend: str
) -> Compiled:
    """Reverse mode and the backend's passes (``codegen.generate.differentiate``)."""
    return differentiate(forward, get_backend(backend), wrt)


STAGES = ("parse", "linearize", "reverse", "print", "render")


@dataclass
class Run:
    times: dict[str, float] = field(default_factory=dict)
    compiled: Compiled | None = None
    text: str = ""  # rendered, unformatted


def pipeline(source: str, options: Options, repeats: int) -> Run:
    """Median time of each stage; ``print`` is building the view (every line printed),
    ``render`` the jinja2 template."""
    run = Run()
    t, parsed = timed(lambda: parse(source, "<bench>"), repeats)
    run.times["parse"] = t
    t, forward = timed(lambda: prune(linearize(parsed, options.inputs)), repeats)
    run.times["linearize"] = t
    t, compiled = timed(
        lambda: reverse_program(forward, options.wrt, options.backend), repeats
    )
    run.times["reverse"] = t
    run.compiled = compiled
    t, view = timed(lambda: build_view(compiled, source, "bench"), repeats)
    run.times["print"] = t
    t, run.text = timed(lambda: render(view), repeats)
    run.times["render"] = t
    return run


def elementary_ops(text: str, function: str) -> int:
    """Elementary operations a generated function executes, read off its syntax tree:
    every operator, comparison and call (``np.exp``, ``np.full_like``...) except the
    final ``Grads(...)``.  Sigmoid counts 7 here (``np.exp(np.minimum(e, 0)) / (1 +
    np.exp(-np.abs(e)))``), as CasADi counts its expansion; the IR count counts it 1."""
    tree = ast.parse(text)
    (body,) = (
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function
    )
    count = 0
    for node in ast.walk(body):
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Compare):
            count += 1
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            count += name != "Grads"
    return count


def op_counts(compiled: Compiled) -> tuple[int, int]:
    """(forward ops, forward_backward ops), counted as printed: an accumulating
    statement ``dx = dx + e`` counts its ``+``, and ``dx = dx + (-e)``, which the
    printer writes ``dx = dx - e``, counts the subtraction but not the negation."""
    fwd = sum(count_ops(s.expr) for s in compiled.forward.stmts)
    fb = 0
    for s in compiled.reverse.stmts:
        fb += count_ops(s.expr)
        if s.accumulate:
            negated = isinstance(s.expr, Op) and s.expr.prim == "neg"
            fb += 0 if negated else 1
    return fwd, fb


def run_ratio(module, args: tuple[float, ...], repeats: int) -> tuple[float, float]:
    """Median seconds of one ``forward`` and one ``forward_backward`` call."""
    fwd = module.forward
    fb = module.forward_backward
    inner = 1
    start = time.perf_counter()
    fb(*args)
    once = time.perf_counter() - start
    if once < 0.02:
        inner = max(1, int(0.02 / max(once, 1e-7)))
    t_f, t_fb = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fwd(*args)
        t_f.append((time.perf_counter() - start) / inner)
        start = time.perf_counter()
        for _ in range(inner):
            fb(*args)
        t_fb.append((time.perf_counter() - start) / inner)
    return statistics.median(t_f), statistics.median(t_fb)


def input_point(compiled: Compiled, seed: int = 3) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(rng.uniform(*INPUT_BOX) for _ in compiled.forward.inputs)


# --------------------------------------------------------------------------------------
# sections


def section_lecture(repeats: int) -> None:
    heading("1. Lecture examples: generation time per stage (median)")
    rows = []
    for label, source in (
        ("x + y*z", LECTURE_ADD_MUL),
        ("sigmoid chain", SIGMOID_CHAIN.read_text()),
    ):
        run = pipeline(source, Options(), repeats)
        t_black, formatted = timed(lambda text=run.text: format_black(text), repeats)
        t_fast, fast = timed(lambda text=run.text: format_fast(text), repeats)
        fwd, fb = op_counts(run.compiled)
        total = sum(run.times.values())
        rows.append(
            [
                label,
                *(fmt_s(run.times[s]) for s in STAGES),
                fmt_s(total),
                fmt_s(t_black),
                fmt_s(t_fast),
                f"{fwd} / {fb}",
                "yes" if fast == formatted else "NO",
            ]
        )
    table(
        [
            "example",
            *STAGES,
            "sum",
            "black",
            "fast",
            "ops fwd / fwd+bwd",
            "fast==black",
        ],
        rows,
    )
    out(
        f"(medians of {repeats} runs; 'print' builds every line of the module view, "
        "'render' is the jinja2 template; black = format_black, fast = format_fast)"
    )


def pipeline_compile(source: str, backend: str = "numpy") -> Compiled:
    from codegen.generate import compile_source

    return compile_source(source, Options(backend=backend), "<bench>")


def _view(compiled: Compiled, source: str):
    return build_view(compiled, source, "bench")


@dataclass
class Case:
    label: str
    source: str
    run: Run
    repeats: int
    check: float = 0.0
    fast: float | None = None
    fast_error: str = ""
    black: float | None = None
    black_error: str = ""
    fast_equals_black: bool | None = None
    load: float | None = None
    fwd_ops: int = 0
    fb_ops: int = 0
    fwd_elementary: int = 0
    fb_elementary: int = 0
    t_forward: float = float("nan")
    t_fb: float = float("nan")
    t_forward_np: float = float("nan")
    t_fb_np: float = float("nan")
    problems: list[str] = field(default_factory=list)
    backend_diff: float = float("nan")


def _short(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:90]


def measure_case(
    label: str, source: str, repeats: int, with_black: bool, run_repeats: int
) -> Case:
    run = pipeline(source, Options(), repeats)
    case = Case(label, source, run, repeats)
    compiled = run.compiled
    case.fwd_ops, case.fb_ops = op_counts(compiled)
    case.check, _ = timed(lambda: check_syntax(run.text), 1)
    fast = None
    try:
        case.fast, fast = timed(lambda: format_fast(run.text), 1)
    except Exception as exc:  # noqa: BLE001 - reported, and the run goes on
        case.fast_error = _short(exc)
        case.problems.append(f"format_fast raised {case.fast_error}")
    if with_black:
        try:
            case.black, formatted = timed(lambda: format_black(run.text), 1)
            case.fast_equals_black = formatted == fast
        except Exception as exc:  # noqa: BLE001 - reported
            case.black_error = _short(exc)
            case.problems.append(f"format_black raised {case.black_error}")
    text = fast if fast is not None else run.text
    case.fwd_elementary = elementary_ops(text, "forward")
    case.fb_elementary = elementary_ops(text, "forward_backward")
    try:
        case.load, module = timed(lambda: load_module(text, "bench_numpy"), 1)
    except Exception as exc:  # noqa: BLE001 - reported
        case.problems.append(f"the module does not compile/import: {_short(exc)}")
        return case
    point = input_point(compiled)
    # the math backend gives the run-time ratio on plain floats (no numpy scalars)
    math_view = build_view(
        reverse_program(compiled.forward, compiled.wrt, "math"), source, "bench"
    )
    math_module = load_module(render(math_view), "bench_math")
    case.t_forward, case.t_fb = run_ratio(math_module, point, run_repeats)
    case.t_forward_np, case.t_fb_np = run_ratio(module, point, run_repeats)
    # forward agrees with forward_backward, everything finite; the two backends agree
    # up to rounding (sigmoid is computed differently, and deep random DAGs amplify it)
    v_np, g_np = module.forward_backward(*point)
    v_m, g_m = math_module.forward_backward(*point)
    g_np = np.asarray(g_np, dtype=float)
    g_m = np.asarray(g_m, dtype=float)
    if not (
        float(module.forward(*point)) == float(v_np)
        and math_module.forward(*point) == v_m
    ):
        case.problems.append("forward and forward_backward values differ")
    if not (
        np.isfinite(v_m) and np.all(np.isfinite(g_m)) and np.all(np.isfinite(g_np))
    ):
        case.problems.append("non-finite value or gradient")
    scale = max(1.0, float(np.max(np.abs(g_m), initial=0.0)))
    case.backend_diff = max(
        abs(float(v_np) - v_m) / max(1.0, abs(v_m)),
        float(np.max(np.abs(g_np - g_m), initial=0.0)) / scale,
    )
    return case


def report_cases(cases: list[Case]) -> None:
    out("Generation (medians over 'reps' runs; 'generate' = parse..render, no format):")
    rows = []
    for c in cases:
        gen = sum(c.run.times.values())
        n = c.fwd_ops
        target = 3.0 if n <= 10_000 else 30.0
        rows.append(
            [
                c.label,
                str(c.repeats),
                *(fmt_s(c.run.times[s]) for s in STAGES),
                fmt_s(gen) + ("" if gen < target else " OVER"),
                f"{gen / n * 1e6:.0f} µs" if n else "-",
            ]
        )
    table(["case", "reps", *STAGES, "generate", "per fwd op"], rows)
    out(
        "(targets, formatting excluded: 10,000 ops < 3 s, 100,000 ops < 30 s; 'print'"
        " builds every line of the module view, 'render' is the jinja2 template)"
    )
    out()
    out("Formatting and loading (one run each):")
    rows = []
    for c in cases:
        rows.append(
            [
                c.label,
                f"{c.run.text.count(chr(10)):,}",
                fmt_s(c.check),
                "FAILED" if c.fast_error else fmt_s(c.fast),
                c.black_error and "FAILED" or fmt_s(c.black),
                {None: "-", True: "yes", False: "NO"}[c.fast_equals_black],
                fmt_s(c.load) if c.load is not None else "FAILED",
            ]
        )
    table(
        [
            "case",
            "lines",
            "ast check",
            "format_fast",
            "format_black",
            "fast==black",
            "compile+import",
        ],
        rows,
    )
    out(
        "(ast check = the compile() check that format_module runs first; black is"
        " skipped past 10,000 ops unless --full)"
    )
    out()
    out("Operation counts and run time (python floats, one point, median):")
    rows = []
    for c in cases:
        ratio = c.fb_ops / c.fwd_ops if c.fwd_ops else float("nan")
        flag = "" if ratio <= TARGET_RATIO else " (> 3)"
        rows.append(
            [
                c.label,
                f"{c.fwd_ops:,}",
                f"{c.fb_ops:,}",
                f"{ratio:.2f}{flag}",
                f"{c.fwd_elementary:,} -> {c.fb_elementary:,}",
                f"{c.fb_elementary / max(c.fwd_elementary, 1):.2f}",
                fmt_s(c.t_forward),
                fmt_s(c.t_fb),
                f"{c.t_fb / c.t_forward:.2f}",
                fmt_s(c.t_forward_np),
                fmt_s(c.t_fb_np),
                f"{c.t_fb_np / c.t_forward_np:.2f}",
            ]
        )
    table(
        [
            "case",
            "fwd ops",
            "fwd+bwd ops",
            "ops ratio",
            "elementary ops",
            "ratio",
            "math fwd",
            "math fb",
            "fb/fwd",
            "numpy fwd",
            "numpy fb",
            "fb/fwd",
        ],
        rows,
    )
    out(
        f"(ops = count_ops over the statements as printed: +1 per accumulation, "
        f"'dx = dx - e' for an accumulated negation; target ratio <= {TARGET_RATIO}, CasADi and hand-written flat code reach "
        f"{CASADI_RATIO}; elementary ops = operators and calls in the generated numpy "
        "code, where sigmoid costs 7, counted as CasADi counts its expansion.  math = --backend math on floats; "
        "numpy = the default backend called with floats)"
    )
    for c in cases:
        status = "; ".join(c.problems) if c.problems else "ok"
        out(
            f"checks {c.label}: {status} (numpy vs math backend: max relative "
            f"difference {c.backend_diff:.1e})"
        )


def section_dags(sizes: list[int], full: bool, quick: bool) -> list[Case]:
    heading("2. Seeded random expression DAGs")
    out(
        "Programs of n statements, one primitive each (+ - * / 60%, exp sin tanh "
        "sigmoid sqrt log 40%, some literals), every value used, the second operand "
        "drawn from all earlier values (fan-out); safe domains by interval arithmetic."
    )
    cases = []
    for n in sizes:
        label = f"DAG {n:,}"
        repeats = 1 if n >= 100_000 else (3 if n >= 10_000 else 5)
        if quick:
            repeats = min(repeats, 3 if n < 10_000 else 1)
        source = random_dag(n, seed=n)
        with_black = n <= (1_000 if quick else 10_000) or full
        case = measure_case(
            label, source, repeats, with_black, 3 if n >= 100_000 else 7
        )
        cases.append(case)
    report_cases(cases)
    return cases


def section_long_expression(n_terms: int, full: bool, quick: bool) -> Case:
    heading(f"3. One single-line expression of {n_terms:,} terms")
    source = long_expression(n_terms)
    out(f"{len(source):,} characters on one line: {source[:60]} ...")
    with_black = full or n_terms <= (1_000 if quick else 10_000)
    case = measure_case(f"expr {n_terms:,} terms", source, 1, with_black, 3)
    report_cases([case])
    return case


def section_batch(quick: bool) -> None:
    heading(
        "4. Batch: one NumPy call on 100,000 points vs a Python loop over the points"
    )
    n_points = 100_000
    rows = []
    programs = [
        ("sigmoid chain", SIGMOID_CHAIN.read_text(), n_points, 10_000),
        ("DAG 100", random_dag(100, seed=100), 20_000, 2_000),
        ("DAG 1,000", random_dag(1_000, seed=1_000), 1_000, 100),
    ]
    if quick:
        programs = [(a, b, max(1, c // 10), max(1, d // 10)) for a, b, c, d in programs]
    for label, source, loop_math, loop_np in programs:
        compiled = pipeline_compile(source)
        np_module = load_module(render(_view(compiled, source)), "batch_numpy")
        math_compiled = pipeline_compile(source, "math")
        math_module = load_module(render(_view(math_compiled, source)), "batch_math")
        rng = np.random.default_rng(7)
        k = len(compiled.forward.inputs)
        lo, hi = INPUT_BOX if label != "sigmoid chain" else (-3.0, 3.0)
        points = rng.uniform(lo, hi, size=(k, n_points))
        arrays = tuple(points[i] for i in range(k))
        t_batch, (value, grads) = timed(
            lambda arrays=arrays, m=np_module: m.forward_backward(*arrays), 5
        )
        rows_list = points.T.tolist()
        fb_math = math_module.forward_backward

        def loop_math_fn(rows_list=rows_list, fb=fb_math, m=loop_math):
            return [fb(*p) for p in rows_list[:m]]

        t_loop, results = timed(loop_math_fn, 3 if loop_math < n_points else 1)
        t_loop_full = t_loop * n_points / loop_math
        fb_np = np_module.forward_backward

        def loop_np_fn(rows_list=rows_list, fb=fb_np, m=loop_np):
            return [fb(*p) for p in rows_list[:m]]

        t_loop_np, _ = timed(loop_np_fn, 1)
        t_loop_np_full = t_loop_np * n_points / loop_np
        # the batch agrees with the loop on the points the loop covered
        m = min(200, loop_math)
        ok = np.allclose(value[:m], [r[0] for r in results[:m]], rtol=1e-9) and all(
            np.allclose(g[:m], [r[1][i] for r in results[:m]], rtol=1e-8, atol=1e-12)
            for i, g in enumerate(grads)
        )
        rows.append(
            [
                label,
                str(k),
                fmt_s(t_batch),
                fmt_s(t_loop_full) + ("" if loop_math == n_points else "*"),
                f"{t_loop_full / t_batch:,.0f}x",
                fmt_s(t_loop_np_full) + ("" if loop_np == n_points else "*"),
                f"{t_loop_np_full / t_batch:,.0f}x",
                "ok" if ok else "MISMATCH",
            ]
        )
    table(
        [
            "program",
            "inputs",
            "numpy batch",
            "loop (math)",
            "speed-up",
            "loop (numpy/pt)",
            "speed-up",
            "batch == loop",
        ],
        rows,
    )
    out(
        "(* the loop ran over a prefix of the points and is scaled to 100,000: "
        f"math loop {', '.join(f'{p[0]}: {p[2]:,}' for p in programs)}; "
        f"numpy per-point loop {', '.join(f'{p[0]}: {p[3]:,}' for p in programs)})"
    )


def cli(args: list[str], timeout: float) -> tuple[float, int, str]:
    """Run the CLI of the tree under test (``python cli.py``: the ``backpropgen``
    console script's entry point, importing this tree's codegen)."""
    cmd = [sys.executable, str(ROOT / "cli.py")]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd + args, capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -1, f"timed out after {timeout:.0f} s"
    return time.perf_counter() - start, proc.returncode, proc.stderr.strip()


def _cli_row(
    label: str, source: str, budget: float, tmp: str, extra: list[str]
) -> tuple[list[str], bool, float]:
    src = Path(tmp) / "in.bp"
    dst = Path(tmp) / "out.py"
    src.write_text(source)
    if dst.exists():
        dst.unlink()
    elapsed, rc, err = cli(["-f", str(src), "-o", str(dst), *extra], timeout=900)
    ok = rc == 0 and dst.exists()
    result = ""
    if ok:
        try:
            load_module(dst.read_text(), "cli_out")
            result = "written, imports"
        except Exception as exc:  # noqa: BLE001 - reported
            ok = False
            result = f"import failed: {_short(exc)}"
    else:
        lines = err.splitlines() or [""]
        traceback = " (with a traceback)" if "Traceback" in err else ""
        result = lines[-1][:100] + traceback
    verdict = "ok" if ok and elapsed < budget else ("OVER" if ok else "FAILED")
    row = [
        label + (" " + " ".join(extra) if extra else ""),
        fmt_s(elapsed),
        f"< {budget:.0f} s: {verdict}",
        f"exit {rc}",
        result,
    ]
    return row, ok, elapsed


def section_cli(full: bool, quick: bool) -> None:
    heading("5. CLI end to end (defaults: backpropgen -f FILE -o OUT)")
    cases: list[tuple[str, Callable[[], str], float, bool]] = [
        ("x + y*z (start-up)", lambda: "x + y*z\n", 30, True),
        ("1,000-line program", lambda: random_dag(1_000, seed=11), 30, True),
        (
            "10,000-line program (8 inputs)",
            lambda: random_dag(10_000, seed=12, n_inputs=8),
            30,
            not quick,
        ),
        ("10,000-line program", lambda: random_dag(10_000, seed=12), 30, not quick),
        ("100,000-line program", lambda: random_dag(100_000, seed=13), 300, full),
        (
            "100,000-line program (8 inputs)",
            lambda: random_dag(100_000, seed=13, n_inputs=8),
            300,
            full,
        ),
        (
            "100,000-term expression",
            lambda: long_expression(100_000, seed=14),
            300,
            full,
        ),
        # wide: the def lines, INPUTS, SHAPES and Grads(...) hold every input
        ("sum of 100,000 distinct inputs", lambda: wide_sum(100_000), 30, not quick),
        ("sum of 200,000 distinct inputs", lambda: wide_sum(200_000), 66, full),
    ]
    rows = []
    wide: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, budget, enabled in cases:
            if not enabled:
                why = "--quick" if quick else "needs --full"
                rows.append([label, "skipped", why, "", ""])
                continue
            source = make()
            row, ok, elapsed = _cli_row(label, source, budget, tmp, [])
            rows.append(row)
            wide[label] = elapsed
            if not ok and full and source.count("\n") <= 10_000:
                # the same input with black on the whole module, for comparison
                rows.append(
                    _cli_row(label, source, budget, tmp, ["--format", "black"])[0]
                )
        # past what it handles: a million-term expression must fail fast (exit 2)
        src = Path(tmp) / "huge.bp"
        dst = Path(tmp) / "huge.py"
        src.write_text(long_expression(1_000_000, seed=15))
        size = src.stat().st_size
        elapsed, rc, err = cli(["-f", str(src), "-o", str(dst)], timeout=300)
        fine = rc == 2 and not dst.exists() and "Traceback" not in err
        rows.append(
            [
                f"1,000,000-term expression ({size / 1e6:.0f} MB)",
                fmt_s(elapsed),
                f"exit 2, < 10 s: {'ok' if fine and elapsed < 10 else 'FAILED'}",
                f"exit {rc}",
                (err.splitlines() or [""])[0][:110],
            ]
        )
        # a sum of a million distinct inputs: refused within 10 s too
        src.write_text(wide_sum(1_000_000))
        elapsed, rc, err = cli(["-f", str(src), "-o", str(dst)], timeout=300)
        fine = rc == 2 and not dst.exists() and "Traceback" not in err
        rows.append(
            [
                "sum of 1,000,000 distinct inputs",
                fmt_s(elapsed),
                f"exit 2, < 10 s: {'ok' if fine and elapsed < 10 else 'FAILED'}",
                f"exit {rc}",
                (err.splitlines() or [""])[0][:110],
            ]
        )
    table(["input", "wall time", "target", "status", "stderr / result"], rows)
    out(
        "(wall time includes interpreter start-up and imports; the CLI of the tree "
        "under test is run as python cli.py; targets: a sum of 100,000 distinct "
        "inputs < 30 s, 200,000 < 2.2x that, 1,000,000 refused < 10 s)"
    )
    small, large = (
        wide.get(f"sum of {n} distinct inputs") for n in ("100,000", "200,000")
    )
    if small and large:
        # one run each varies by 20% on this shared machine: two more interleaved
        # rounds, and the ratio of the medians
        runs = {100_000: [small], 200_000: [large]}
        with tempfile.TemporaryDirectory() as tmp:
            for n in runs:
                (Path(tmp) / f"sum{n}.bp").write_text(wide_sum(n))
            for _ in range(2):
                for n, times in runs.items():
                    src, dst = Path(tmp) / f"sum{n}.bp", Path(tmp) / f"sum{n}.py"
                    elapsed, rc, err = cli(["-f", str(src), "-o", str(dst)], 300)
                    assert rc == 0, err
                    times.append(elapsed)
        small, large = (statistics.median(t) for t in runs.values())
        verdict = "ok" if large <= 2.2 * small else "OVER"
        shown = "; ".join(
            f"{n:,}: " + ", ".join(fmt_s(t) for t in times) for n, times in runs.items()
        )
        out(
            f"sums of distinct inputs, 3 interleaved runs each ({shown}): medians "
            f"{fmt_s(small)} and {fmt_s(large)}, 200,000 / 100,000 = "
            f"{large / small:.2f}x (< 2.2x: {verdict})"
        )


def casadi_graph(source: str):
    """The program rebuilt as a CasADi SX graph: (its input vector, its output)."""
    import casadi as ca

    funcs = {
        "exp": ca.exp,
        "log": ca.log,
        "sqrt": ca.sqrt,
        "sin": ca.sin,
        "tanh": ca.tanh,
        "sigmoid": lambda v: 1 / (1 + ca.exp(-v)),
    }
    names = dag_inputs(source)
    inputs = [ca.SX.sym(name) for name in names]
    return ca.vertcat(*inputs), scalar_function(source, names, funcs)(*inputs)


def dag_inputs(source: str) -> tuple[str, ...]:
    """The inputs a DAG program declares (``x0: float``), in order."""
    return tuple(
        ln.split(":")[0] for ln in source.splitlines() if ln.endswith(": float")
    )


def scalar_function(source: str, inputs: tuple[str, ...], lib: dict[str, object]):
    """A scalar program of one assignment a line (a random DAG, the sigmoid chain) as
    a Python function over the functions in ``lib`` (jax.numpy's, torch's, CasADi's)."""
    body = [
        line.split("#")[0].strip()
        for line in source.splitlines()
        if "=" in line.split("#")[0]
    ]
    output = body[-1].split("=")[0].strip()
    text = f"def f({', '.join(inputs)}):\n"
    text += "".join(f"    {line}\n" for line in body) + f"    return {output}\n"
    namespace = dict(lib)
    exec(text, namespace)  # noqa: S102 (the benchmark's own programs)
    return namespace["f"]


def casadi_ops(source: str) -> tuple[int, int, int, int] | None:
    """(fwd ops, fwd+grad ops, fwd instructions, fwd+grad instructions) of the program
    rebuilt as a CasADi SX graph (gradient by casadi.gradient: reverse mode)."""
    import casadi as ca

    x, last = casadi_graph(source)
    f = ca.Function("f", [x], [last])
    fb = ca.Function("fb", [x], [last, ca.gradient(last, x)])

    def ops(fn) -> int:
        skip = {ca.OP_INPUT, ca.OP_OUTPUT, ca.OP_CONST, ca.OP_PARAMETER}
        return sum(fn.instruction_id(k) not in skip for k in range(fn.n_instructions()))

    return ops(f), ops(fb), f.n_instructions(), fb.n_instructions()


def section_casadi(cases: list[Case]) -> None:
    heading("6. CasADi on the same DAGs (optional)")
    try:
        import casadi
    except ImportError:
        out(
            "casadi is not installed: skipped (pip install casadi, or the 'bench' extra)"
        )
        return
    rows = []
    for c in cases:
        if not c.label.startswith("DAG"):
            continue
        start = time.perf_counter()
        f_ops, fb_ops, f_ins, fb_ins = casadi_ops(c.source)
        elapsed = time.perf_counter() - start
        rows.append(
            [
                c.label,
                f"{f_ops:,}",
                f"{fb_ops:,}",
                f"{fb_ops / f_ops:.2f}",
                f"{fb_ins / f_ins:.2f}",
                f"{c.fb_ops / c.fwd_ops:.2f}",
                fmt_s(elapsed),
            ]
        )
    table(
        [
            "case",
            "casadi fwd ops",
            "casadi fwd+grad ops",
            "casadi ratio",
            "ratio (all instr.)",
            "backpropgen ratio",
            "casadi build",
        ],
        rows,
    )
    out(
        f"(casadi {casadi.__version__}; SX graphs, gradient by reverse mode; 'ops' "
        "excludes input/output/constant instructions; sigmoid is 1/(1+exp(-v)) there, "
        "3 ops, so CasADi's forward has more ops than ours for the same program)"
    )


# --------------------------------------------------------------------------------------


def _git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "codegen", "cli.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"HEAD {head[:60]}; codegen/cli.py {'MODIFIED' if dirty else 'clean'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 1 minute")
    parser.add_argument(
        "--full",
        action="store_true",
        help="black at 100,000 ops and the 100,000-line/-term CLI cases",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out(
        f"backpropgen scalar benchmark: python {platform.python_version()}, "
        f"numpy {np.__version__}, {os.cpu_count()} cores, {platform.machine()}"
    )
    out(f"command: python benchmarks/bench_scalar.py {' '.join(argv or sys.argv[1:])}")
    out(f"code under test: {ROOT} ({_git_state()})")
    section_lecture(5 if args.quick else 20)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    cases = section_dags(sizes, args.full, args.quick)
    n_terms = 2_000 if args.quick else 100_000
    cases.append(section_long_expression(n_terms, args.full, args.quick))
    section_batch(args.quick)
    section_cli(args.full, args.quick)
    section_casadi(cases)
    out()
    out(f"total wall time {time.perf_counter() - start:.0f} s")
    return 0


def jax_lib():
    """The DAG programs' functions in JAX (``jax.nn.sigmoid`` for sigmoid)."""
    import jax
    import jax.numpy as jnp

    return {
        "exp": jnp.exp,
        "log": jnp.log,
        "sqrt": jnp.sqrt,
        "sin": jnp.sin,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
    }


if __name__ == "__main__":
    sys.exit(main())
