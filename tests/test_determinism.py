"""Generation is a pure function of its input: no hash order, no dates, no paths."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, GENERATED, REPO

import cli

SEEDS = ("0", "12345")

SOURCES: list[tuple[str, dict[str, object]]] = [
    ("x + y*z", {}),
    ("q = y*z; f = x + q", {"inputs": ["x", "y", "z"]}),
    ((EXAMPLES / "sigmoid_chain.bp").read_text(encoding="utf-8"), {}),
    ((EXAMPLES / "sigmoid_chain.bp").read_text(encoding="utf-8"), {"backend": "math"}),
    ("sin(x*y) + cos(x*y) + exp(x*y) * (x + y) * (x + y)", {}),
    ("max(a, b, c, d, e) + min(e, d, c, b, a) + relu(a - b) + abs(c - d)", {}),
    ("dx * x + d_x + t1 * t2 + f * 2", {"backend": "math"}),
    ("u = sin(x); v = u * u; w = v + u; g = w * x + y * z", {"wrt": ["z", "x"]}),
    (
        "1e-3 * x ** 2.5 + pi * sqrt(y) / tanh(z) - sigmoid(-w)",
        {"inputs": ["w", "z", "y", "x"]},
    ),
    # every mode, several outputs and grad() inside a program
    (
        "a = sin(x*y) + z; b = a * a * x",
        {"mode": ["grad", "jvp", "hvp", "hessian", "jacobian"]},
    ),
    ("u = x*y; v = exp(x) + z; w = u / v\nw, u, v", {"mode": ["jvp", "jacobian"]}),
    ("f = x*x*y; g = grad(f, x); h = grad(g, y); out = g * h", {"mode": ["hvp"]}),
    ((EXAMPLES / "gradient_penalty.bp").read_text(encoding="utf-8"), {}),
    (
        (EXAMPLES / "two_layer_net.bp").read_text(encoding="utf-8"),
        {"mode": ["jvp", "hvp"], "wrt": ["W1", "b1", "W2", "b2"]},
    ),
]

SCRIPT = """
import json, sys
from codegen.generate import Options, generate
out = []
for source, opts in json.loads(sys.stdin.read()):
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
    out.append(generate(source, Options(**opts)))
sys.stdout.write(json.dumps(out))
"""


def _generate_in_subprocess(seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps(SOURCES).encode(),
        capture_output=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_two_hash_seeds_give_byte_identical_modules() -> None:
    first, second = (_generate_in_subprocess(seed) for seed in SEEDS)
    assert first == second
    modules = json.loads(first)
    assert len(modules) == len(SOURCES)
    assert all("def forward_backward(" in text for text in modules)


def test_cli_output_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in SEEDS:
        target = tmp_path / f"seed_{seed}" / "out.py"  # the name shows in the header
        target.parent.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [
                sys.executable,
                "cli.py",
                "max(x, y, z) * sin(x*y) + x*y",
                "-o",
                str(target),
            ],
            capture_output=True,
            cwd=REPO,
            env=env,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


# --- nothing machine- or time-dependent in the output ---------------------------------

ABSOLUTE_PATH = re.compile(
    r"(?<![\w.])(/(home|root|tmp|work|usr|Users|var|opt)/|[A-Za-z]:\\)"
)
DATE = re.compile(
    r"\b(19|20)\d\d-\d\d-\d\d\b|\b\d\d?:\d\d:\d\d\b|"
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2},? (19|20)\d\d\b"
)


def _assert_portable(text: str, *forbidden: str) -> None:
    assert not ABSOLUTE_PATH.search(text), ABSOLUTE_PATH.search(text)
    assert not DATE.search(text), DATE.search(text)
    for item in forbidden:
        assert item not in text


GALLERY = sorted(p for p in GENERATED.glob("*.py") if p.name != "__init__.py")


def test_gallery_exists() -> None:
    names = {p.stem for p in GALLERY}
    assert {
        "add_mul",
        "sigmoid_chain",
        "add_gate",
        "copy_gate",
        "mul_gate",
        "max_gate",
    } <= names


@pytest.mark.parametrize("path", GALLERY, ids=[p.stem for p in GALLERY])
def test_gallery_has_no_paths_or_dates(path: Path) -> None:
    _assert_portable(path.read_text(encoding="utf-8"), str(REPO), str(Path.home()))


def test_cli_with_absolute_paths_writes_no_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    program = tmp_path / "deep" / "dir" / "chain.bp"
    program.parent.mkdir(parents=True)
    program.write_text("a = x * y\nf = sin(a)\n", encoding="utf-8")
    target = tmp_path / "elsewhere" / "grad.py"
    target.parent.mkdir()
    assert cli.main(["-f", str(program), "-o", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    _assert_portable(text, str(tmp_path), str(program.parent))
    # the regenerate command names the files relative to the folder it ran in
    assert "-f deep/dir/chain.bp -o elsewhere/grad.py" in text
    assert cli.main(["-f", str(program)]) == 0
    out, _ = capsys.readouterr()
    _assert_portable(out, str(tmp_path))
