"""The printer writes black's style: the fast path (black on long lines only) equals
black on the whole module, black is idempotent on it, and the modules are clean."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from functools import cache
from pathlib import Path

import black
import pytest
from conftest import GENERATED, REPO, options

from codegen.errors import BackpropgenError
from codegen.formatting import (
    LINE_LENGTH,
    black_mode,
    check_syntax,
    exploded,
    format_black,
    format_fast,
)
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
    # a constant output: every matrix entry zero, no seed left unread (F841)
    *(
        (source, Options(backend=b, inputs=("x", "y"), mode=modes))
        for b in ("numpy", "math")
        for source, modes in (
            ("f = 3", ("grad", "jvp", "hvp", "hessian", "jacobian")),
            ("u = 2 * x\nv = 3\nu, v", ("grad", "jvp", "jacobian")),
        )
    ),
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

#: concurrent.futures: the thread pool of --chunks' in_chunks (standard library)
ALLOWED = {
    "numpy": {"numpy", "collections", "concurrent"},
    "math": {"math", "collections"},
}


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
            "concurrent",
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


# --- long bracketed lists: exploded as black would, without black ------------------------


def _wide_programs() -> list[tuple[str, Options]]:
    """Programs of many inputs: their def lines, INPUTS, WRT, SHAPES and Grads(...) are
    long bracketed lists (also with array inputs, several modes and targets)."""
    programs: list[tuple[str, Options]] = []
    for n, prefix in [(24, "x"), (30, "input_"), (45, f"{LONG[:30]}_")]:
        names = [f"{prefix}{i}" for i in range(n)]
        total = " + ".join(names)
        for backend in ("numpy", "math", "torch"):
            programs.append((total, Options(backend=backend)))
        programs.append((total, Options(mode=("grad", "jvp"))))
        programs.append((total, Options(target="function", backend="torch")))
        arrays = "\n".join(f"{name}: array[N]" for name in names)
        programs.append((f"{arrays}\nsum({' * '.join(names)})", Options()))
        mixed = "\n".join(
            f"{name}: array[N, M]" if i % 3 else f"{name}: array[M]"
            for i, name in enumerate(names)
        )
        programs.append((f"{mixed}\nsum({' + '.join(names)})", Options()))
        programs.append(
            (f"{arrays}\nsum({' * '.join(names)})", Options(target="layer"))
        )
    return programs


WIDE = _wide_programs()


@pytest.mark.parametrize(
    ("source", "opts"), WIDE, ids=[f"wide-{i}" for i in range(len(WIDE))]
)
def test_wide_modules_fast_equals_black(source: str, opts: Options) -> None:
    if opts.backend == "torch":
        pytest.importorskip(
            "torch", reason="PyTorch is not installed: pip install '.[torch]'"
        )
    text = rendered(source, opts)
    long = [line for line in text.split("\n") if len(line) > LINE_LENGTH]
    known = [line for line in long if exploded(line) is not None]
    assert len(known) >= 3  # the def lines, INPUTS, ... take the path without black
    assert format_fast(text) == format_black(text)


def _list_line(rng: random.Random) -> str:
    """A line of one of the shapes :func:`exploded` knows, or nearly (short, with a
    trailing comma, an item too long, a bracket in the head)."""
    n = rng.choice([2, 3, 8, 20, 40])
    width = rng.choice([1, 4, 12, 40, 80])
    names = [f"v{'_' * rng.randrange(width)}{i}" for i in range(n)]
    kind = rng.randrange(7)
    indent = rng.choice(["", "    ", "        "])
    if kind == 0:
        items = [f"{name}={rng.choice(['1.0', 'None', '(N,)'])}" for name in names[:2]]
        params = ", ".join(names[2:] + items)
        tail = rng.choice([":", " -> float:", " -> Grads:"])
        return f"{indent}def f_{width}({params}){tail}"
    if kind == 1:
        return f"{indent}NAMES = ({', '.join(repr(n).replace(chr(39), chr(34)) for n in names)})"
    if kind == 2:
        shapes = ["()", "(N,)", "(N, M)", "(N, 3)", "(2,)", "((N,),)", "(N, M,)"]
        entries = ", ".join(f'"{n}": {rng.choice(shapes)}' for n in names)
        return f"{indent}SHAPES = {{{entries}}}"
    if kind == 3:
        return f"{indent}return out, Grads({', '.join(names)})"
    if kind == 4:
        return f"{indent}return Cache({', '.join(names)},)"  # a magic comma already
    if kind == 5:
        return f"{indent}value = f({names[0]})[{', '.join(names)}]"
    return f"{indent}xs = [{', '.join(f'g({n}, [{n},])' for n in names)}]"


def _black_line(line: str) -> list[str]:
    body = line.lstrip(" ")
    indent = line[: len(line) - len(body)]
    header = body.endswith(":")
    snippet = body + ("\n    pass\n" if header else "\n")
    mode = black_mode(LINE_LENGTH - len(indent))
    parts = black.format_str(snippet, mode=mode).split("\n")[: -2 if header else -1]
    return [indent + part if part else part for part in parts]


def test_exploded_lines_equal_black() -> None:
    rng = random.Random("exploded")
    taken = refused = 0
    for _ in range(400):
        line = _list_line(rng)
        known = exploded(line)
        if known is None:
            refused += 1
            continue
        taken += 1
        assert known == _black_line(line), line
    assert taken >= 80 and refused >= 50  # both kinds of line were tried


def test_exploded_refuses_what_black_would_lay_out_otherwise() -> None:
    short_body = "INPUTS = (" + ", ".join(f'"x{i}"' for i in range(13)) + ")"
    assert len(short_body) > LINE_LENGTH and exploded(short_body) is None
    long_item = "INPUTS = (" + ", ".join([f'"{"y" * 90}"', '"x"']) + ")"
    assert exploded(long_item) is None
    assert (
        exploded("SHAPES = {" + ", ".join(f'"x{i}": (N, M,)' for i in range(20)) + "}")
        is None
    )
    assert exploded("x = f(a)(" + ", ".join(f"x{i}" for i in range(40)) + ")") is None
    assert (
        exploded("y = 'a, b' + g(" + ", ".join(f"x{i}" for i in range(40)) + ")")
        is None
    )


def test_the_syntax_check_compiles() -> None:
    # ast.parse accepts a repeated parameter; the compiler (what imports it) does not
    check_syntax("def f(x, y):\n    return x\n")
    with pytest.raises(BackpropgenError, match="duplicate argument 'x'"):
        check_syntax("def f(x, x):\n    return x\n")
