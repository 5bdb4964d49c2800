"""The printer writes black's style: the fast path (black on long lines only) equals
black on the whole module, black is idempotent on it, and the modules are clean."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import GENERATED, REPO, options

from codegen.formatting import LINE_LENGTH, format_black, format_fast
from codegen.generate import Options, generate, render_unformatted
from codegen.regen import load_manifest


@cache
def rendered(source: str, opts: Options) -> str:
    """The module text before formatting."""
    return render_unformatted(source, opts)


MANIFEST = load_manifest(REPO / "pyproject.toml")
GALLERY = [(e.name, e.source, e.options) for e in MANIFEST.entries]

LONG = "a_rather_long_intermediate_name_for_testing_line_wrapping"
FUNCTIONS = "exp sin cos tanh sigmoid relu abs".split()


def _random_program(rng: random.Random, index: int) -> tuple[str, Options]:
    """Seeded random programs, several with statements far past 88 characters."""
    names = [f"x{i}" for i in range(rng.randint(2, 5))]
    if index % 3 == 0:
        names = [f"{LONG}_{name}" for name in names]
    lines: list[str] = []
    pool = list(names)
    for k in range(rng.randint(2, 6)):
        shape = rng.randrange(6)
        pick = [rng.choice(pool) for _ in range(rng.randint(2, 12))]
        if shape == 0:
            rhs = f"max({', '.join(pick)})" if len(pick) > 1 else pick[0]
        elif shape == 1:
            rhs = f"min({', '.join(pick)}, 2.5)"
        elif shape == 2:
            rhs = " * ".join(f"{rng.choice(FUNCTIONS)}({p})" for p in pick[:4])
        elif shape == 3:
            rhs = f"({pick[0]} + 1e-3) ** 2 - {pick[1]} / (1 + {pick[-1]} ** 2)"
        elif shape == 4:
            rhs = " + ".join(f"{rng.uniform(0.1, 9):.3f} * {p}" for p in pick)
        else:
            rhs = f"-{pick[0]} * pi + sqrt(1 + {pick[1]} * {pick[1]})"
        target = f"{LONG}_{k}" if index % 2 else f"v{k}"
        lines.append(f"{target} = {rhs}")
        pool.append(target)
    # a short output name: a long one is its own test (the docstring's first line)
    lines.append(f"out = {pool[-1]} * {pool[0]}")
    backend = "numpy" if index % 2 else "math"
    wrt = tuple(names[:2]) if index % 5 == 0 else None
    return "\n".join(lines), options(backend, wrt=wrt)


RANDOM = [_random_program(random.Random(f"format-{i}"), i) for i in range(30)]
EXTRA = [
    ("max(" + ", ".join(f"x{i}" for i in range(24)) + ")", options("numpy")),
    ("min(" + ", ".join(f"x{i}" for i in range(24)) + ")", options("math")),
    (f"{LONG} * {LONG}_b + exp({LONG}) / (1 + {LONG}_b ** 2)", options("numpy")),
    ("x ** (1/3) + (1 + y*y) ** (-2/3) * 2 ** (-1/2)", options("math")),
]
PROGRAMS = RANDOM + EXTRA


@cache
def blacked(source: str, opts: Options) -> str:
    return format_black(rendered(source, opts))


def test_some_programs_need_wrapping() -> None:
    long_lines = 0
    for source, opts in PROGRAMS:
        text = rendered(source, opts)
        long_lines += sum(len(line) > LINE_LENGTH for line in text.splitlines())
    assert long_lines >= 20


@pytest.mark.parametrize(
    ("name", "source", "opts"), GALLERY, ids=[g[0] for g in GALLERY]
)
def test_gallery_fast_equals_black(name: str, source: str, opts: Options) -> None:
    text = rendered(source, opts)
    black = format_black(text)
    assert format_fast(text) == black
    assert format_black(black) == black
    assert (GENERATED / f"{name}.py").read_text(encoding="utf-8") == black


@pytest.mark.parametrize(
    ("source", "opts"), PROGRAMS, ids=[f"program-{i}" for i in range(len(PROGRAMS))]
)
def test_random_programs_fast_equals_black(source: str, opts: Options) -> None:
    text = rendered(source, opts)
    black = blacked(source, opts)
    assert format_fast(text) == black
    assert format_black(black) == black
    assert generate(source, opts) == black


@pytest.mark.parametrize("backend", ["numpy", "math"])
def test_fast_equals_black_with_a_long_output_name(backend: str) -> None:
    # the docstring's first line names the output: past 88 characters it is long too
    source = f"{LONG} = x * y"
    text = rendered(source, options(backend))
    assert any(len(line) > LINE_LENGTH for line in text.splitlines())
    black = format_black(text)
    assert format_fast(text) == black
    assert generate(source, options(backend, format="fast")) == black


# --- imports and lint -------------------------------------------------------------------

ALLOWED = {"numpy": {"numpy", "collections"}, "math": {"math", "collections"}}


def _imports(text: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0
            found.add((node.module or "").split(".")[0])
    return found


MODULES = [(f"gallery-{n}", s, o) for n, s, o in GALLERY] + [
    (f"program-{i}", s, o) for i, (s, o) in enumerate(PROGRAMS)
]


@pytest.mark.parametrize(
    ("name", "source", "opts"), MODULES, ids=[m[0] for m in MODULES]
)
def test_imports_only_numpy_math_collections(
    name: str, source: str, opts: Options
) -> None:
    imports = _imports(blacked(source, opts))
    assert imports <= ALLOWED[opts.backend], imports


def test_gallery_files_import_only_the_standard_library_and_numpy() -> None:
    for path in sorted(GENERATED.glob("*.py")):
        assert _imports(path.read_text(encoding="utf-8")) <= {
            "numpy",
            "math",
            "collections",
        }


def test_modules_are_ruff_clean(tmp_path: Path) -> None:
    for name, source, opts in MODULES:
        text = blacked(source, opts)
        (tmp_path / f"{name.replace('-', '_')}.py").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "E,F,W",
            "--ignore",
            "E501,E741",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
